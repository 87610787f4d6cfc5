import type { Counter } from 'prom-client';
import type { ComponentTelemetry } from '../../telemetry/metrics.js';

/** The clickhouse exporter's own instruments (the sending queue's are every exporter's). */
export class ClickHouseMetrics {
  private readonly exporterExpired: Counter<'exporter'>;

  constructor(private readonly component: ComponentTelemetry) {
    this.exporterExpired = component.counter({
      name: 'otelhouse_exporter_expired_log_records_total',
      help:
        "Log records older than the exporter's ttl when they reached " +
        'it: still sent, and dropped by ClickHouse with their part.',
      labelNames: ['exporter'],
    });
  }

  expired(n: number): void {
    this.exporterExpired.inc({ exporter: this.component.id }, n);
    this.component.count('expired', n);
  }
}
