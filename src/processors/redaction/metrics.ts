import type { Counter } from 'prom-client';
import type { ComponentTelemetry } from '../../telemetry/metrics.js';

/** The redaction processor's instruments. */
export class RedactionMetrics {
  private readonly redactionMasked: Counter<'processor' | 'detector'>;
  private readonly redactionDeletedTotal: Counter<'processor'>;

  constructor(private readonly component: ComponentTelemetry) {
    this.redactionMasked = component.counter({
      name: 'otelhouse_processor_redaction_masked_total',
      help: 'Values the redaction processor masked, by the detector that found them (never the values).',
      labelNames: ['processor', 'detector'],
    });
    this.redactionDeletedTotal = component.counter({
      name: 'otelhouse_processor_redaction_deleted_attributes_total',
      help: 'Attributes the redaction processor removed because they are not in allowed_keys.',
      labelNames: ['processor'],
    });
  }

  /** Values masked by one redaction detector. */
  masked(detector: string, n: number): void {
    this.redactionMasked.inc({ processor: this.component.id, detector }, n);
    this.component.count(`masked_${detector}`, n);
  }

  redactionDeleted(n: number): void {
    this.redactionDeletedTotal.inc({ processor: this.component.id }, n);
    this.component.count('deleted_attributes', n);
  }
}
