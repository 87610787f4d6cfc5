import type { ReceiverFactory } from '../../pipeline/component.js';
import { jsonIngestConfigSchema } from './config.js';
import { JsonIngestReceiver } from './json-ingest-receiver.js';

export const jsonIngestReceiverFactory: ReceiverFactory<typeof jsonIngestConfigSchema> = {
  kind: 'receiver',
  type: 'json_ingest',
  configSchema: jsonIngestConfigSchema,
  create: (config, context, next) => new JsonIngestReceiver(config, context, next),
};
