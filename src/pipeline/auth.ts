import type { Extension } from './component.js';

/** Reads one request header (HTTP header or gRPC metadata); names are lower-case. */
export type HeaderReader = (name: string) => string | undefined;

/**
 * What a receiver's `auth: { authenticator: ID }` names: an extension that decides whether a
 * request may pass, from its headers alone, before the receiver reads or stores anything.
 */
export interface ServerAuthenticator {
  /** undefined when the request may pass; otherwise the reason it may not (safe to tell the client). */
  authenticate(header: HeaderReader): string | undefined;
}

export function isServerAuthenticator(x: Extension): x is Extension & ServerAuthenticator {
  return typeof (x as Partial<ServerAuthenticator>).authenticate === 'function';
}
