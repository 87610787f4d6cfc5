import type { Counter, Histogram } from 'prom-client';
import type { ComponentTelemetry } from '../../telemetry/metrics.js';

/** The batch processor's instruments. */
export class BatchMetrics {
  private readonly processorBatchSize: Histogram<'processor'>;
  private readonly processorBatchTrigger: Counter<'processor' | 'trigger'>;

  constructor(private readonly component: ComponentTelemetry) {
    this.processorBatchSize = component.histogram({
      name: 'otelhouse_processor_batch_batch_send_size',
      help: 'Number of log records in each batch the batch processor sent on.',
      labelNames: ['processor'],
      buckets: [10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000],
    });
    this.processorBatchTrigger = component.counter({
      name: 'otelhouse_processor_batch_send_trigger_total',
      help: 'Why the batch processor sent a batch: size or timeout (or shutdown).',
      labelNames: ['processor', 'trigger'],
    });
  }

  batchSent(n: number, trigger: 'size' | 'timeout' | 'shutdown'): void {
    this.processorBatchSize.observe({ processor: this.component.id }, n);
    this.processorBatchTrigger.inc({ processor: this.component.id, trigger });
    this.component.count('batches', 1);
    this.component.count('records', n);
  }
}
