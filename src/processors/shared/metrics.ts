import type { Counter } from 'prom-client';
import type { ComponentTelemetry } from '../../telemetry/metrics.js';

/** The instruments of the convert action, which the attributes and resource processors share. */
export class ConvertMetrics {
  private readonly processorConvertFailed: Counter<'processor' | 'key'>;

  constructor(private readonly component: ComponentTelemetry) {
    this.processorConvertFailed = component.counter({
      name: 'otelhouse_processor_convert_failed_total',
      help:
        'Values a convert action (attributes, resource processors) could ' +
        'not convert; the record was kept with the value unchanged.',
      labelNames: ['processor', 'key'],
    });
  }

  /** A convert action's failures on one attribute key (the record is kept, the value unchanged). */
  convertFailed(key: string, n: number): void {
    this.processorConvertFailed.inc({ processor: this.component.id, key }, n);
    this.component.count('convert_failed', n);
  }
}
