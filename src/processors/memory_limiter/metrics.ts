import type { Counter, Gauge } from 'prom-client';
import type { ComponentTelemetry } from '../../telemetry/metrics.js';

/** The memory limiter's instruments. */
export class MemoryLimiterMetrics {
  private readonly memoryLimiterRefusing: Gauge<'processor'>;
  private readonly memoryLimiterForcedGc: Counter<'processor'>;
  private readonly memoryLimiterRss: Gauge<'processor'>;

  constructor(private readonly component: ComponentTelemetry) {
    this.memoryLimiterRefusing = component.gauge({
      name: 'otelhouse_processor_memory_limiter_refusing',
      help: '1 while the memory limiter refuses data (resident memory above its soft limit), else 0.',
      labelNames: ['processor'],
      aggregator: 'max',
    });
    this.memoryLimiterForcedGc = component.counter({
      name: 'otelhouse_processor_memory_limiter_forced_gc_total',
      help: 'Full garbage collections the memory limiter forced while above its soft limit.',
      labelNames: ['processor'],
    });
    this.memoryLimiterRss = component.gauge({
      name: 'otelhouse_processor_memory_limiter_rss_bytes',
      help: "Resident memory at the memory limiter's last check.",
      labelNames: ['processor'],
    });
  }

  /** The memory limiter's last check, for /metrics and /stats. */
  memoryState(rssBytes: number, softLimitBytes: number, hardLimitBytes: number, refusing: boolean): void {
    this.memoryLimiterRefusing.set({ processor: this.component.id }, refusing ? 1 : 0);
    this.memoryLimiterRss.set({ processor: this.component.id }, rssBytes);
    this.component.counts['rss_mib'] = Math.round(rssBytes / 1048576);
    this.component.counts['soft_limit_mib'] = Math.round(softLimitBytes / 1048576);
    this.component.counts['limit_mib'] = Math.round(hardLimitBytes / 1048576);
    this.component.counts['refusing'] = refusing ? 1 : 0;
  }

  forcedGc(): void {
    this.memoryLimiterForcedGc.inc({ processor: this.component.id });
    this.component.count('forced_gc', 1);
  }
}
