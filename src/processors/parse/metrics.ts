import type { Counter } from 'prom-client';
import type { ComponentTelemetry } from '../../telemetry/metrics.js';

/** The parse processor's instruments. */
export class ParseMetrics {
  private readonly parseRecords: Counter<'processor' | 'result'>;

  constructor(private readonly component: ComponentTelemetry) {
    this.parseRecords = component.counter({
      name: 'otelhouse_processor_parse_log_records_total',
      help:
        'What the parse processor did, by result: json, logfmt, severity, timestamp ' +
        '(parsed); invalid_json, too_large, too_deep, timestamp_invalid (left as they were).',
      labelNames: ['processor', 'result'],
    });
  }

  /** One kind of parse processor outcome. */
  parsed(result: string, n: number): void {
    this.parseRecords.inc({ processor: this.component.id, result }, n);
    this.component.count(result, n);
  }
}
