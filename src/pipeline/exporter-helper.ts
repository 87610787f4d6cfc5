import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { duration, positiveInt, section } from '../config/types.js';
import type { ComponentContext, ComponentHealth, Exporter } from './component.js';
import { BackPressureError, PermanentExportError, RetryableExportError, ShuttingDownError, errorMessage } from './errors.js';
import { countRecords, type LogBatch } from './model.js';

/** `sending_queue`, as the OTel Collector's exporterhelper spells it; sizes count log records. */
export const sendingQueueSchema = section({
  enabled: z.boolean().default(true),
  num_consumers: positiveInt(2),
  queue_size: positiveInt(100_000),
});

/** `retry_on_failure`, as the OTel Collector's exporterhelper spells it. */
export const retryOnFailureSchema = section({
  enabled: z.boolean().default(true),
  initial_interval: duration('1s'),
  max_interval: duration('30s'),
  /** 0 retries for ever. */
  max_elapsed_time: duration('5m'),
  multiplier: z.number().min(1, 'must be at least 1').default(1.5),
  randomization_factor: z.number().min(0).max(1, 'must be between 0 and 1').default(0.5),
});

export type SendingQueueConfig = z.output<typeof sendingQueueSchema>;
export type RetryOnFailureConfig = z.output<typeof retryOnFailureSchema>;

/**
 * How an exporter sends. `prepare` turns a batch into what is queued and sent, when it enters the
 * queue: an encoded payload is several times smaller than the batch it came from, so a full queue
 * costs less memory. `attempt` sends it once; `token` is stable across the retries of one batch, so
 * a sink that deduplicates on it (ClickHouse's insert_deduplication_token) stores a retried batch
 * once.
 */
export interface ExportSender<P> {
  prepare(batch: LogBatch): P;
  attempt(payload: P, records: number, token: string): Promise<void | ExportOutcome>;
}

/** A sink that took the batch but refused some of its records (OTLP partial_success). */
export interface ExportOutcome {
  /** Records the sink will never store: counted as failed, not retried. */
  rejected: number;
}

interface QueueItem<P> {
  payload: P;
  records: number;
  token: string;
}

/**
 * The exporter half every exporter shares: a bounded in-memory queue drained by `num_consumers`
 * workers, each retrying retryable failures with exponential back-off and jitter. consume()
 * resolves once the batch is queued and refuses with BackPressureError when the queue is full,
 * so a slow sink slows the receivers instead of growing memory.
 */
export class QueuedExporter<P> implements Exporter {
  private readonly items: QueueItem<P>[] = [];
  private queuedRecords = 0;
  private closing = false;
  private lastError = '';
  private consecutiveFailures = 0;
  private readonly wakeups: Array<() => void> = [];
  private workers: Promise<void>[] = [];
  private deadline = Infinity;

  constructor(
    private readonly context: ComponentContext,
    private readonly queueConfig: SendingQueueConfig,
    private readonly retryConfig: RetryOnFailureConfig,
    private readonly sender: ExportSender<P>,
    private readonly hooks: { start?: () => Promise<void>; stop?: () => Promise<void>; health?: () => Record<string, unknown> } = {},
  ) {}

  async start(): Promise<void> {
    await this.hooks.start?.();
    this.reportQueue();
    const consumers = this.queueConfig.enabled ? this.queueConfig.num_consumers : 0;
    for (let i = 0; i < consumers; i++) this.workers.push(this.work());
  }

  async consume(batch: LogBatch): Promise<void> {
    if (this.closing) throw new ShuttingDownError(this.context.id);
    const records = countRecords(batch);
    if (records === 0) return;
    // Refuse before encoding: a refused batch comes back, and would be encoded again.
    if (this.queueConfig.enabled && this.queuedRecords > 0 && this.queuedRecords + records > this.queueConfig.queue_size) {
      throw new BackPressureError(`${this.context.id}: sending queue is full (${this.queuedRecords} of ${this.queueConfig.queue_size} log records)`);
    }
    const item = { payload: this.sender.prepare(batch), records, token: randomUUID() };
    if (!this.queueConfig.enabled) {
      await this.deliver(item);
      return;
    }
    this.items.push(item);
    this.queuedRecords += records;
    this.reportQueue();
    this.wakeups.shift()?.();
  }

  health(): ComponentHealth {
    const extra = this.hooks.health?.() ?? {};
    const status = this.consecutiveFailures > 0 ? 'degraded' : 'ok';
    const h: ComponentHealth = { status, queue_size: this.queuedRecords, ...extra };
    if (this.lastError && this.consecutiveFailures > 0) h.detail = this.lastError;
    return h;
  }

  /** Stops taking batches, exports what is queued until the deadline, then stops the sink. */
  async shutdown(deadline: number): Promise<void> {
    this.closing = true;
    this.deadline = deadline;
    for (const wake of this.wakeups.splice(0)) wake();
    await Promise.all(this.workers);
    const lost = this.items.splice(0);
    if (lost.length > 0) {
      const n = lost.reduce((s, i) => s + i.records, 0);
      this.queuedRecords = 0;
      this.context.telemetry.failed(n, 'shutdown');
      this.context.logger.error({ records: n, batches: lost.length }, 'shutdown deadline reached with log records still queued; they were not exported');
    }
    this.reportQueue();
    await this.hooks.stop?.();
  }

  private async work(): Promise<void> {
    for (;;) {
      const item = this.items.shift();
      if (!item) {
        if (this.closing) return;
        await new Promise<void>((resolve) => this.wakeups.push(resolve));
        continue;
      }
      await this.deliver(item);
      this.queuedRecords -= item.records;
      this.reportQueue();
    }
  }

  /** Exports one batch, retrying what is retryable; never throws. */
  private async deliver(item: QueueItem<P>): Promise<void> {
    const { logger, telemetry } = this.context;
    const started = Date.now();
    let interval = this.retryConfig.initial_interval;
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      try {
        const outcome = await this.sender.attempt(item.payload, item.records, item.token);
        const rejected = outcome ? Math.min(outcome.rejected, item.records) : 0;
        telemetry.sent(item.records - rejected, (performance.now() - t0) / 1000);
        if (rejected > 0) telemetry.failed(rejected, 'rejected');
        this.consecutiveFailures = 0;
        return;
      } catch (err) {
        this.lastError = errorMessage(err);
        this.consecutiveFailures++;
        if (err instanceof PermanentExportError || !(err instanceof RetryableExportError) || !this.retryConfig.enabled) {
          telemetry.failed(item.records, 'permanent');
          logger.error({ err: this.lastError, records: item.records, attempt }, 'export failed permanently; dropping the batch');
          return;
        }
        const elapsed = Date.now() - started;
        const limit = this.retryConfig.max_elapsed_time;
        if ((limit > 0 && elapsed >= limit) || Date.now() >= this.deadline) {
          telemetry.failed(item.records, Date.now() >= this.deadline ? 'shutdown' : 'retries_exhausted');
          logger.error({ err: this.lastError, records: item.records, attempt, elapsed_ms: elapsed }, 'export retries exhausted; dropping the batch');
          return;
        }
        const jitter = interval * this.retryConfig.randomization_factor;
        let wait = interval - jitter + Math.random() * 2 * jitter;
        if (err.retryAfterMs !== undefined) wait = Math.max(wait, err.retryAfterMs);
        wait = Math.min(wait, this.deadline - Date.now());
        if (limit > 0) wait = Math.min(wait, Math.max(0, limit - elapsed));
        telemetry.retried();
        logger.warn({ err: this.lastError, records: item.records, attempt, retry_in_ms: Math.round(wait) }, 'export failed; retrying');
        await sleep(Math.max(0, wait));
        interval = Math.min(interval * this.retryConfig.multiplier, this.retryConfig.max_interval);
      }
    }
  }

  private reportQueue(): void {
    this.context.telemetry.queue(this.queuedRecords, this.queueConfig.queue_size);
  }
}
