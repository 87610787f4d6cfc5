import type { ComponentContext, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import type { LogBatch } from '../../pipeline/model.js';
import { AttributeActions } from '../shared/attribute-actions.js';
import { RecordSelector } from '../shared/match.js';
import type { ResourceConfig } from './config.js';
import { ConvertMetrics } from '../shared/metrics.js';

/** The OTel Collector's resource processor: actions on resource attributes, once per resource. */
export class ResourceProcessor implements Processor {
  private readonly metrics: ConvertMetrics;
  private readonly actions: AttributeActions;
  private readonly selector: RecordSelector;

  constructor(
    config: ResourceConfig,
    context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.metrics = new ConvertMetrics(context.telemetry);
    this.actions = new AttributeActions(config.attributes);
    this.selector = new RecordSelector(config.include, config.exclude);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: LogBatch): Promise<void> {
    for (const rl of batch.resourceLogs) {
      if (this.selector.all || this.selector.enterResource(rl.resource))
        rl.resource.attributes = this.actions.apply(rl.resource.attributes);
    }
    const failures = this.actions.takeConvertFailures();
    if (failures) for (const [key, n] of failures) this.metrics.convertFailed(key, n);
    return this.next.consume(batch);
  }
}
