import { createHash } from 'node:crypto';

/**
 * A template's id: the first 64 bits of the SHA-256 of its text. It depends on nothing but the
 * text, so every pod of a DaemonSet, and every restart, gives the same template the same id.
 * 0 is reserved for "no template", so a text hashing to 0 takes 1.
 */
export function templateId(text: string): bigint {
  const id = createHash('sha256').update(text, 'utf8').digest().readBigUInt64BE(0);
  return id === 0n ? 1n : id;
}
