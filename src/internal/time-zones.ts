/**
 * IANA time zones through Intl, the only zone database Node has; shared by the syslog receiver and
 * the parse processor.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of an IANA time zone from UTC at an instant, in ms. */
function zoneOffsetMs(utcMs: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
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
export function zonedToUtcMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  timeZone: string,
): number {
  const asUtc = Date.UTC(year, month, day, hour, minute, second);
  if (timeZone === 'UTC') return asUtc;
  let utc = asUtc - zoneOffsetMs(asUtc, timeZone);
  utc = asUtc - zoneOffsetMs(utc, timeZone);
  return utc;
}
