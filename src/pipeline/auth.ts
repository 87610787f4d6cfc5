import { createHash, timingSafeEqual } from 'node:crypto';
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

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * A set of secret values (tokens, API keys) checked in constant time: the presented value and
 * every known one are compared as SHA-256 digests (equal lengths), and every known value is
 * compared, so neither the length nor the position of a match shows in the timing.
 */
export class TokenSet {
  private readonly digests: Buffer[];

  constructor(values: Iterable<string>) {
    this.digests = [...new Set(values)].filter((v) => v.length > 0).map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  has(presented: string): boolean {
    const d = digest(presented);
    let found = false;
    for (const known of this.digests) found = timingSafeEqual(known, d) || found;
    return found;
  }
}
