import { createHash } from 'node:crypto';

/**
 * SHA-256 hex digests with the recent ones kept: log values repeat (user ids, routes), and a
 * digest costs ~1 µs. Two generations, so a full cache keeps the recent half instead of starting
 * empty. Only values up to MAX_CACHED_LENGTH characters are kept: the cache holds its keys, and
 * 32,768 large values (request bodies, stack traces) could pin gigabytes.
 */
export class Sha256Cache {
  static readonly GENERATION_SIZE = 16_384;
  static readonly MAX_CACHED_LENGTH = 256;
  private recent = new Map<string, string>();
  private older = new Map<string, string>();

  digest(text: string): string {
    if (text.length > Sha256Cache.MAX_CACHED_LENGTH) return createHash('sha256').update(text).digest('hex');
    let digest = this.recent.get(text);
    if (digest !== undefined) return digest;
    digest = this.older.get(text) ?? createHash('sha256').update(text).digest('hex');
    if (this.recent.size >= Sha256Cache.GENERATION_SIZE) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(text, digest);
    return digest;
  }

  /** Values held. */
  get size(): number {
    return this.recent.size + this.older.size;
  }
}
