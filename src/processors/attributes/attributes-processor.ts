import type { ComponentContext, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import type { LogBatch } from '../../pipeline/model.js';
import { AttributeActions } from '../shared/attribute-actions.js';
import { RecordSelector } from '../shared/match.js';
import type { AttributesConfig } from './config.js';
import { ConvertMetrics } from '../shared/metrics.js';

/** The OTel Collector's attributes processor for logs: actions on log record attributes. */
export class AttributesProcessor implements Processor {
  private readonly metrics: ConvertMetrics;
  private readonly actions: AttributeActions;
  private readonly selector: RecordSelector;

  constructor(
    config: AttributesConfig,
    context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.metrics = new ConvertMetrics(context.telemetry);
    this.actions = new AttributeActions(config.actions);
    this.selector = new RecordSelector(config.include, config.exclude);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: LogBatch): Promise<void> {
    const selector = this.selector;
    const actions = this.actions;
    for (const rl of batch.resourceLogs) {
      if (!selector.all && !selector.enterResource(rl.resource)) continue;
      for (const sl of rl.scopeLogs) {
        if (!selector.all && !selector.enterScope(sl.scope)) continue;
        const records = sl.logRecords;
        for (let i = 0; i < records.length; i++) {
          const rec = records[i]!;
          if (selector.all || selector.selects(rec)) rec.attributes = actions.apply(rec.attributes);
        }
      }
    }
    const failures = actions.takeConvertFailures();
    if (failures) for (const [key, n] of failures) this.metrics.convertFailed(key, n);
    return this.next.consume(batch);
  }
}
