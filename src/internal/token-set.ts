import { createHash, timingSafeEqual } from 'node:crypto';

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
