import type { ProcessorFactory } from '../../pipeline/component.js';
import { redactionConfigSchema } from './config.js';
import { RedactionProcessor } from './redaction-processor.js';

export const redactionProcessorFactory: ProcessorFactory<typeof redactionConfigSchema> = {
  kind: 'processor',
  type: 'redaction',
  configSchema: redactionConfigSchema,
  create: (config, context, next) => new RedactionProcessor(config, context, next),
};
