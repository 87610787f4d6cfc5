import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ComponentContext, ComponentHealth, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { BackPressureError, ShuttingDownError } from '../../pipeline/errors.js';
import { countRecords, type LogBatch } from '../../pipeline/model.js';
import { MIB, memoryLimits, type MemoryLimiterConfig } from './config.js';
import { MemoryLimiterMetrics } from './metrics.js';

let collectGarbage: (() => void) | undefined;

/**
 * A full garbage collection. RSS above the limit is often garbage V8 has not collected yet, and
 * with new data refused little is allocated to prompt a collection: without one the limiter could
 * keep refusing. gc() is only exposed behind a V8 flag, which can be set at run time.
 */
function fullGc(): void {
  if (!collectGarbage) {
    setFlagsFromString('--expose-gc');
    collectGarbage = runInNewContext('gc') as () => void;
  }
  collectGarbage();
}

/**
 * Refuses data while the process's resident memory is above the soft limit (limit - spike), so
 * the receivers answer with their back-pressure signal (HTTP 429 with Retry-After, gRPC
 * RESOURCE_EXHAUSTED with RetryInfo, syslog TCP stops reading) instead of the process growing
 * until it is killed; takes data again once a check finds it below. Memory is measured every
 * check_interval; above the soft limit a full garbage collection runs, and its result is what
 * decides. A full collection stops everything, so it runs at most once per
 * min_gc_interval_when_soft_limited (10 s) between the limits, as in the OTel Collector, and
 * once per min_gc_interval_when_hard_limited (every check) above the hard limit.
 */
export class MemoryLimiterProcessor implements Processor {
  private readonly metrics: MemoryLimiterMetrics;
  private readonly hard: number;
  private readonly soft: number;
  private refusing = false;
  private rss = 0;
  private lastGc = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    private readonly config: MemoryLimiterConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.metrics = new MemoryLimiterMetrics(context.telemetry);
    // Each of service.workers processes measures its own RSS, so each takes its share of the limits.
    const { hard, soft } = memoryLimits(config);
    const share = context.worker?.count ?? 1;
    this.hard = hard / share;
    this.soft = soft / share;
  }

  async start(): Promise<void> {
    this.context.logger.info(
      {
        limit_mib: Math.round(this.hard / MIB),
        soft_limit_mib: Math.round(this.soft / MIB),
        check_interval_ms: this.config.check_interval,
      },
      'memory limiter on',
    );
    this.check();
    this.timer = setInterval(() => this.check(), this.config.check_interval);
    this.timer.unref();
  }

  consume(batch: LogBatch): Promise<void> {
    if (this.closing) return Promise.reject(new ShuttingDownError(this.context.id));
    if (this.refusing) {
      const records = countRecords(batch);
      this.context.telemetry.processorRefused(records);
      return Promise.reject(
        new BackPressureError(
          `${this.context.id}: memory usage ${Math.round(this.rss / MIB)} ` +
            `MiB is above the soft limit of ${Math.round(this.soft / MIB)} MiB`,
          Math.max(1000, this.config.check_interval),
        ),
      );
    }
    return this.next.consume(batch);
  }

  health(): ComponentHealth {
    return this.refusing
      ? {
          status: 'degraded',
          detail:
            `refusing data: memory usage ${Math.round(this.rss / MIB)} MiB ` +
            `is above the soft limit of ${Math.round(this.soft / MIB)} MiB`,
        }
      : { status: 'ok' };
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
  }

  private check(): void {
    let rss = process.memoryUsage.rss();
    if (rss >= this.soft) {
      const minInterval =
        rss >= this.hard
          ? this.config.min_gc_interval_when_hard_limited
          : this.config.min_gc_interval_when_soft_limited;
      const now = performance.now();
      if (now - this.lastGc >= minInterval) {
        fullGc();
        this.lastGc = now;
        this.metrics.forcedGc();
        rss = process.memoryUsage.rss();
      }
    }
    this.rss = rss;
    const refusing = rss >= this.soft;
    if (refusing !== this.refusing) {
      this.refusing = refusing;
      const state = {
        rss_mib: Math.round(rss / MIB),
        soft_limit_mib: Math.round(this.soft / MIB),
        limit_mib: Math.round(this.hard / MIB),
      };
      if (refusing)
        this.context.logger.warn(
          state,
          rss >= this.hard
            ? 'memory usage is above the hard limit; refusing data'
            : 'memory usage is above the soft limit; refusing data',
        );
      else this.context.logger.info(state, 'memory usage is below the soft limit again; taking data');
    }
    this.metrics.memoryState(rss, this.soft, this.hard, refusing);
  }
}
