import type { ProcessorFactory } from '../../pipeline/component.js';
import { resourceDetectionConfigSchema } from './config.js';
import { ResourceDetectionProcessor } from './resource-detection-processor.js';

export const resourceDetectionProcessorFactory: ProcessorFactory<typeof resourceDetectionConfigSchema> = {
  kind: 'processor',
  type: 'resourcedetection',
  configSchema: resourceDetectionConfigSchema,
  create: (config, context, next) => new ResourceDetectionProcessor(config, context, next, process.env),
};
