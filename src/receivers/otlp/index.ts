import type { ReceiverFactory } from '../../pipeline/component.js';
import { otlpConfigSchema } from './config.js';
import { OtlpReceiver } from './otlp-receiver.js';

export const otlpReceiverFactory: ReceiverFactory<typeof otlpConfigSchema> = {
  kind: 'receiver',
  type: 'otlp',
  configSchema: otlpConfigSchema,
  create: (config, context, next) => new OtlpReceiver(config, context, next),
};

// bench/accuracy-stored.ts builds the receiver itself and imports it from here.
export { OtlpReceiver } from './otlp-receiver.js';
