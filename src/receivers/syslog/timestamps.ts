/** Offset of an IANA time zone from UTC at an instant, in ms (Intl is the only zone database Node has). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function zoneOffsetMs(utcMs: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(utcMs)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(utcMs / 1000) * 1000;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** A wall-clock time in a zone to unix ms (the usual two-pass fix-up around offset changes). */
export function zonedToUtcMs(year: number, month: number, day: number, hour: number, minute: number, second: number, timeZone: string): number {
  const asUtc = Date.UTC(year, month, day, hour, minute, second);
  if (timeZone === 'UTC') return asUtc;
  let utc = asUtc - zoneOffsetMs(asUtc, timeZone);
  utc = asUtc - zoneOffsetMs(utc, timeZone);
  return utc;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Messages from one source mostly share the same second, so the whole-second part of the last
 * timestamp is remembered and a repeat costs a string compare instead of a date computation.
 */
let lastSecondKey = '';
let lastSecondNs = 0n;
const FRACTION = /^\.(\d{1,9})$/;

/** RFC 3339 (as RFC 5424 and ISO-style BSD lines use) to unix nanoseconds; undefined if invalid. */
export function parseRfc3339(text: string): bigint | undefined {
  if (lastSecondKey && text.startsWith(lastSecondKey.slice(0, 19))) {
    const zoneStart = text.length - (lastSecondKey.length - 19);
    if (text.slice(zoneStart) === lastSecondKey.slice(19)) {
      const middle = text.slice(19, zoneStart);
      if (middle === '') return lastSecondNs;
      const f = FRACTION.exec(middle);
      if (f) return lastSecondNs + BigInt(f[1]!.padEnd(9, '0'));
    }
  }
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo) - 1;
  const ms = Date.UTC(Number(y), month, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (check.getUTCMonth() !== month || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') offsetMin = (zone![0] === '-' ? -1 : 1) * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  const secondNs = BigInt(ms - offsetMin * 60_000) * 1_000_000n;
  lastSecondKey = text.slice(0, 19) + zone;
  lastSecondNs = secondNs;
  return secondNs + BigInt((frac ?? '').padEnd(9, '0') || '0');
}
