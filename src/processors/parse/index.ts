import type { ProcessorFactory } from '../../pipeline/component.js';
import { parseConfigSchema } from './config.js';
import { ParseProcessor } from './parse-processor.js';

export const parseProcessorFactory: ProcessorFactory<typeof parseConfigSchema> = {
  kind: 'processor',
  type: 'parse',
  configSchema: parseConfigSchema,
  create: (config, context, next) => new ParseProcessor(config, context, next),
};
