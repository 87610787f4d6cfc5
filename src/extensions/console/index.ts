import type { ExtensionFactory } from '../../pipeline/component.js';
import { consoleConfigSchema } from './config.js';
import { ConsoleExtension } from './console.js';

export const consoleExtensionFactory: ExtensionFactory<typeof consoleConfigSchema> = {
  kind: 'extension',
  type: 'console',
  configSchema: consoleConfigSchema,
  create: (config, context) => new ConsoleExtension(config, context),
};
