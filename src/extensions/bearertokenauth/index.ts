import type { ExtensionFactory } from '../../pipeline/component.js';
import { bearerTokenAuthConfigSchema } from './config.js';
import { BearerTokenAuth } from './bearer-token-auth.js';

export const bearerTokenAuthExtensionFactory: ExtensionFactory<typeof bearerTokenAuthConfigSchema> = {
  kind: 'extension',
  type: 'bearertokenauth',
  configSchema: bearerTokenAuthConfigSchema,
  create: (config, context) => new BearerTokenAuth(config, context),
};
