import type { Logger } from 'pino';

/** At most one line per key in this interval; a flood of bad requests must not flood the logs. */
export const RATE_LIMITED_LOG_INTERVAL_MS = 10_000;

/**
 * Logs a warning at most once per key (a refusal reason) per interval. A line carries how many
 * lines of its key were suppressed since the previous one, so the log still tells how often it
 * happened; the exact counts are in the metrics.
 */
export class RateLimitedLog {
  private readonly keys = new Map<string, { lastAt: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = RATE_LIMITED_LOG_INTERVAL_MS,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const state = this.keys.get(key);
    if (state && now - state.lastAt < this.intervalMs) {
      state.suppressed++;
      return;
    }
    this.logger.warn({ ...fields, suppressed: state?.suppressed ?? 0 }, message);
    this.keys.set(key, { lastAt: now, suppressed: 0 });
  }
}
