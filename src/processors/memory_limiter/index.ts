import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { z } from 'zod';
import { duration, nonNegativeInt, section } from '../../config/types.js';
import type { ComponentContext, ComponentHealth, Processor, ProcessorFactory } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { BackPressureError, ShuttingDownError } from '../../pipeline/errors.js';
import { countRecords, type LogBatch } from '../../pipeline/model.js';

/** The OTel Collector's memory_limiter settings; limits are on the process's resident memory. */
export const memoryLimiterConfigSchema = section({
  check_interval: duration('1s'),
  /** Hard limit in MiB; the soft limit is limit_mib - spike_limit_mib. */
  limit_mib: nonNegativeInt(0),
  /** Headroom for growth between checks; default 20 % of the limit. */
  spike_limit_mib: nonNegativeInt(0),
  /** The hard limit as a share of the memory available (the container's limit, else the machine's). */
  limit_percentage: z.number().min(0).max(100, 'must be between 0 and 100').default(0),
  spike_limit_percentage: z.number().min(0).max(100, 'must be between 0 and 100').default(0),
  /** Forced garbage collections at most this often while above the soft limit (0: at every check). */
  min_gc_interval_when_soft_limited: duration('10s'),
  /** The same above the hard limit. */
  min_gc_interval_when_hard_limited: duration('0s'),
})
  .refine((c) => c.check_interval > 0, { message: 'must be greater than 0', path: ['check_interval'] })
  .refine((c) => (c.limit_mib > 0) !== (c.limit_percentage > 0), { message: 'set exactly one of limit_mib and limit_percentage', path: ['limit_mib'] })
  .refine((c) => c.limit_mib === 0 || c.spike_limit_mib < c.limit_mib, { message: 'must be less than limit_mib', path: ['spike_limit_mib'] })
  .refine((c) => c.limit_percentage === 0 || c.spike_limit_percentage < c.limit_percentage, {
    message: 'must be less than limit_percentage',
    path: ['spike_limit_percentage'],
  })
  .refine((c) => c.limit_mib > 0 || c.spike_limit_mib === 0, { message: 'use spike_limit_percentage with limit_percentage', path: ['spike_limit_mib'] });

type MemoryLimiterConfig = z.output<typeof memoryLimiterConfigSchema>;

const MIB = 1024 * 1024;

/** The memory this process may use: a cgroup (container) limit if there is one, else the machine's. */
export function availableMemoryBytes(): number {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const limit = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(limit) && limit > 0 && limit < totalmem()) return limit;
    } catch {
      // No such cgroup file here.
    }
  }
  return totalmem();
}

/** The hard and soft limits, in bytes, of a validated config. */
export function memoryLimits(config: MemoryLimiterConfig): { hard: number; soft: number } {
  if (config.limit_mib > 0) {
    const hard = config.limit_mib * MIB;
    const spike = config.spike_limit_mib > 0 ? config.spike_limit_mib * MIB : hard / 5;
    return { hard, soft: hard - spike };
  }
  const available = availableMemoryBytes();
  const hard = (available * config.limit_percentage) / 100;
  const spike = config.spike_limit_percentage > 0 ? (available * config.spike_limit_percentage) / 100 : hard / 5;
  return { hard, soft: hard - spike };
}

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
class MemoryLimiterProcessor implements Processor {
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
    ({ hard: this.hard, soft: this.soft } = memoryLimits(config));
  }

  async start(): Promise<void> {
    this.context.logger.info({ limit_mib: Math.round(this.hard / MIB), soft_limit_mib: Math.round(this.soft / MIB), check_interval_ms: this.config.check_interval }, 'memory limiter on');
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
          `${this.context.id}: memory usage ${Math.round(this.rss / MIB)} MiB is above the soft limit of ${Math.round(this.soft / MIB)} MiB`,
          Math.max(1000, this.config.check_interval),
        ),
      );
    }
    return this.next.consume(batch);
  }

  health(): ComponentHealth {
    return this.refusing ? { status: 'degraded', detail: `refusing data: memory usage ${Math.round(this.rss / MIB)} MiB is above the soft limit of ${Math.round(this.soft / MIB)} MiB` } : { status: 'ok' };
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
  }

  private check(): void {
    let rss = process.memoryUsage.rss();
    if (rss >= this.soft) {
      const minInterval = rss >= this.hard ? this.config.min_gc_interval_when_hard_limited : this.config.min_gc_interval_when_soft_limited;
      const now = performance.now();
      if (now - this.lastGc >= minInterval) {
        fullGc();
        this.lastGc = now;
        this.context.telemetry.forcedGc();
        rss = process.memoryUsage.rss();
      }
    }
    this.rss = rss;
    const refusing = rss >= this.soft;
    if (refusing !== this.refusing) {
      this.refusing = refusing;
      const state = { rss_mib: Math.round(rss / MIB), soft_limit_mib: Math.round(this.soft / MIB), limit_mib: Math.round(this.hard / MIB) };
      if (refusing) this.context.logger.warn(state, rss >= this.hard ? 'memory usage is above the hard limit; refusing data' : 'memory usage is above the soft limit; refusing data');
      else this.context.logger.info(state, 'memory usage is below the soft limit again; taking data');
    }
    this.context.telemetry.memoryState(rss, this.soft, this.hard, refusing);
  }
}

export const memoryLimiterProcessorFactory: ProcessorFactory<typeof memoryLimiterConfigSchema> = {
  kind: 'processor',
  type: 'memory_limiter',
  configSchema: memoryLimiterConfigSchema,
  create: (config, context, next) => new MemoryLimiterProcessor(config, context, next),
};
