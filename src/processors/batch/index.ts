import type { ProcessorFactory } from '../../pipeline/component.js';
import { batchConfigSchema } from './config.js';
import { BatchProcessor } from './batch-processor.js';
import { FlushAcknowledgingBatchProcessor } from './flush-acknowledging.js';

export const batchProcessorFactory: ProcessorFactory<typeof batchConfigSchema> = {
  kind: 'processor',
  type: 'batch',
  configSchema: batchConfigSchema,
  create: (config, context, next) =>
    config.wait_for_flush
      ? new FlushAcknowledgingBatchProcessor(config, context, next)
      : new BatchProcessor(config, context, next),
};
