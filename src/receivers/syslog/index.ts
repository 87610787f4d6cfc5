import type { ReceiverFactory } from '../../pipeline/component.js';
import { syslogConfigSchema } from './config.js';
import { SyslogReceiver } from './syslog-receiver.js';

export const syslogReceiverFactory: ReceiverFactory<typeof syslogConfigSchema> = {
  kind: 'receiver',
  type: 'syslog',
  configSchema: syslogConfigSchema,
  create: (config, context, next) => new SyslogReceiver(config, context, next),
};
