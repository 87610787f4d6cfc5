const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Messages from one source mostly share the same second, so the whole-second part and the zone of
 * the last timestamp are remembered and a repeat costs two string compares and a digit loop
 * instead of a date computation.
 */
let lastPrefix = '';
let lastZone = '';
let lastSecondNs = 0n;
const POWERS_OF_TEN = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/** ".123" → 123000000 ns, or -1 when it is not a fraction of 1–9 digits. */
function fractionNanos(text: string, start: number, end: number): number {
  if (end === start) return 0;
  const digits = end - start - 1;
  if (text.charCodeAt(start) !== 0x2e || digits < 1 || digits > 9) return -1;
  let n = 0;
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n * POWERS_OF_TEN[9 - digits]!;
}

/** RFC 3339 (as RFC 5424 and ISO-style BSD lines use) to unix nanoseconds; undefined if invalid. */
export function parseRfc3339(text: string): bigint | undefined {
  if (lastPrefix && text.startsWith(lastPrefix) && text.endsWith(lastZone)) {
    const nanos = fractionNanos(text, 19, text.length - lastZone.length);
    if (nanos >= 0) return lastSecondNs + BigInt(nanos);
  }
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo) - 1;
  const ms = Date.UTC(Number(y), month, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (
    check.getUTCMonth() !== month ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 60
  )
    return undefined;
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z')
    offsetMin = (zone![0] === '-' ? -1 : 1) * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  const secondNs = BigInt(ms - offsetMin * 60_000) * 1_000_000n;
  lastPrefix = text.slice(0, 19);
  lastZone = zone!;
  lastSecondNs = secondNs;
  return secondNs + BigInt((frac ?? '').padEnd(9, '0') || '0');
}
