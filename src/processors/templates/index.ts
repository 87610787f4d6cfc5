import type { ProcessorFactory } from '../../pipeline/component.js';
import { templatesConfigSchema } from './config.js';
import { TemplatesProcessor } from './templates-processor.js';

export const templatesProcessorFactory: ProcessorFactory<typeof templatesConfigSchema> = {
  kind: 'processor',
  type: 'templates',
  configSchema: templatesConfigSchema,
  create: (config, context, next) => new TemplatesProcessor(config, context, next),
};
