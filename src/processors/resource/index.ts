import type { ProcessorFactory } from '../../pipeline/component.js';
import { resourceConfigSchema } from './config.js';
import { ResourceProcessor } from './resource-processor.js';

export const resourceProcessorFactory: ProcessorFactory<typeof resourceConfigSchema> = {
  kind: 'processor',
  type: 'resource',
  configSchema: resourceConfigSchema,
  create: (config, context, next) => new ResourceProcessor(config, context, next),
};
