import type { ProcessorFactory } from '../../pipeline/component.js';
import { attributesConfigSchema } from './config.js';
import { AttributesProcessor } from './attributes-processor.js';

export const attributesProcessorFactory: ProcessorFactory<typeof attributesConfigSchema> = {
  kind: 'processor',
  type: 'attributes',
  configSchema: attributesConfigSchema,
  create: (config, context, next) => new AttributesProcessor(config, context, next),
};
