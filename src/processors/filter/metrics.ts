import type { Counter } from 'prom-client';
import type { ComponentTelemetry } from '../../telemetry/metrics.js';

/** The filter processor's instruments. */
export class FilterMetrics {
  private readonly filterDroppedTotal: Counter<'processor' | 'rule'>;
  private readonly filterErrorsTotal: Counter<'processor'>;

  constructor(private readonly component: ComponentTelemetry) {
    this.filterDroppedTotal = component.counter({
      name: 'otelhouse_processor_filter_dropped_log_records_total',
      help: 'Log records the filter processor dropped, by the rule that dropped them.',
      labelNames: ['processor', 'rule'],
    });
    this.filterErrorsTotal = component.counter({
      name: 'otelhouse_processor_filter_errors_total',
      help: 'Filter conditions that failed to evaluate on a record (handled by error_mode).',
      labelNames: ['processor'],
    });
  }

  /** Records the filter processor dropped, by rule (min_severity, log_record, include, exclude). */
  filterDropped(rule: string, n: number): void {
    this.filterDroppedTotal.inc({ processor: this.component.id, rule }, n);
    this.component.count('dropped', n);
  }

  filterErrors(n: number): void {
    this.filterErrorsTotal.inc({ processor: this.component.id }, n);
    this.component.count('errors', n);
  }
}
