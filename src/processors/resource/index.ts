import { z } from 'zod';
import { section } from '../../config/types.js';
import type { ComponentContext, Processor, ProcessorFactory } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import type { LogBatch } from '../../pipeline/model.js';
import { AttributeActions, actionListSchema } from '../shared/attribute-actions.js';
import { RecordSelector, attributesMatchSchema } from '../shared/match.js';

/** A resource has no records of its own to match, so only resource-level properties are allowed. */
const RESOURCE_MATCH_KEYS = ['match_type', 'services', 'resources'] as const;

export const resourceConfigSchema = section({
  /** Applied in order to each resource's attributes (the OTel resource processor's key). */
  attributes: actionListSchema.min(1, 'at least one action is needed'),
  /** Act only on resources that match (services, resource attributes). */
  include: attributesMatchSchema(RESOURCE_MATCH_KEYS).optional(),
  /** Leave resources that match alone. */
  exclude: attributesMatchSchema(RESOURCE_MATCH_KEYS).optional(),
});

type ResourceConfig = z.output<typeof resourceConfigSchema>;

/** The OTel Collector's resource processor: actions on resource attributes, once per resource. */
class ResourceProcessor implements Processor {
  private readonly actions: AttributeActions;
  private readonly selector: RecordSelector;

  constructor(
    config: ResourceConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.actions = new AttributeActions(config.attributes);
    this.selector = new RecordSelector(config.include, config.exclude);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: LogBatch): Promise<void> {
    for (const rl of batch.resourceLogs) {
      if (this.selector.all || this.selector.enterResource(rl.resource)) rl.resource.attributes = this.actions.apply(rl.resource.attributes);
    }
    const failures = this.actions.takeConvertFailures();
    if (failures) for (const [key, n] of failures) this.context.telemetry.convertFailed(key, n);
    return this.next.consume(batch);
  }
}

export const resourceProcessorFactory: ProcessorFactory<typeof resourceConfigSchema> = {
  kind: 'processor',
  type: 'resource',
  configSchema: resourceConfigSchema,
  create: (config, context, next) => new ResourceProcessor(config, context, next),
};
