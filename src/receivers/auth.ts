import type { IncomingMessage } from 'node:http';
import type { Metadata } from '@grpc/grpc-js';
import { z } from 'zod';
import { isServerAuthenticator, type HeaderReader, type ServerAuthenticator } from '../pipeline/auth.js';
import type { ComponentContext } from '../pipeline/component.js';

/** `auth: { authenticator: bearertokenauth }`, as in the OTel Collector's confighttp and configgrpc. */
export const authSchema = z.strictObject({
  /** Id of an authenticator extension listed in service.extensions. */
  authenticator: z.string().min(1, 'name an extension, e.g. bearertokenauth'),
});

export type AuthConfig = z.output<typeof authSchema>;

/** The authenticator a receiver's `auth` names; the config loader has checked that it is listed. */
export function resolveAuthenticator(
  auth: AuthConfig | undefined,
  context: ComponentContext,
): ServerAuthenticator | undefined {
  if (!auth) return undefined;
  const extension = context.extensions?.get(auth.authenticator);
  if (!extension)
    throw new Error(
      `${context.id}: authenticator "${auth.authenticator}" is not ` +
        `among the running extensions (list it in service.extensions)`,
    );
  if (!isServerAuthenticator(extension))
    throw new Error(`${context.id}: extension "${auth.authenticator}" cannot authenticate requests`);
  return extension;
}

export function httpHeaders(req: IncomingMessage): HeaderReader {
  return (name) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
}

export function grpcMetadataHeaders(metadata: Metadata): HeaderReader {
  return (name) => {
    const value = metadata.get(name)[0];
    return typeof value === 'string' ? value : undefined;
  };
}
