import type { ProcessorFactory } from '../../pipeline/component.js';
import { filterConfigSchema } from './config.js';
import { FilterProcessor } from './filter-processor.js';

export const filterProcessorFactory: ProcessorFactory<typeof filterConfigSchema> = {
  kind: 'processor',
  type: 'filter',
  configSchema: filterConfigSchema,
  create: (config, context, next) => new FilterProcessor(config, context, next),
};
