import type { ProcessorFactory } from '../../pipeline/component.js';
import { memoryLimiterConfigSchema } from './config.js';
import { MemoryLimiterProcessor } from './memory-limiter-processor.js';

export const memoryLimiterProcessorFactory: ProcessorFactory<typeof memoryLimiterConfigSchema> = {
  kind: 'processor',
  type: 'memory_limiter',
  configSchema: memoryLimiterConfigSchema,
  create: (config, context, next) => new MemoryLimiterProcessor(config, context, next),
};
