import { z } from 'zod';

/** OTel severity ranges: each name covers four numbers (INFO 9, INFO2 10 … INFO4 12). */
const RANGE_NAMES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;

/**
 * Words that name a level in log text and level fields, mapped to OTel severity numbers the way
 * the syslog receiver maps syslog severities (crit → ERROR2, emerg → FATAL2), so a level means the
 * same number whichever way it arrived. A Map, because the words looked up come from log data:
 * `constructor` or `__proto__` must find nothing, not Object.prototype's members.
 */
const LEVEL_WORDS = new Map<string, number>([
  ['trace', 1],
  ['debug', 5],
  ['dbg', 5],
  ['info', 9],
  ['information', 9],
  ['informational', 9],
  ['notice', 10],
  ['warn', 13],
  ['warning', 13],
  ['error', 17],
  ['err', 17],
  ['severe', 17],
  ['crit', 18],
  ['critical', 18],
  ['fatal', 21],
  ['alert', 21],
  ['panic', 21],
  ['emerg', 22],
  ['emergency', 22],
]);

/**
 * A severity as written in configs: a number 1–24, an OTel name (`INFO`, `WARN3`, any case) or a
 * common level word (`warning`, `err`, `critical`). Undefined when it is none of them.
 */
export function severityFromName(text: string): number | undefined {
  const upper = text.trim().toUpperCase();
  if (/^\d+$/.test(upper)) {
    const n = Number(upper);
    return n >= 1 && n <= 24 ? n : undefined;
  }
  const m = /^(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)([1-4]?)$/.exec(upper);
  if (m) return RANGE_NAMES.indexOf(m[1] as (typeof RANGE_NAMES)[number]) * 4 + 1 + (m[2] ? Number(m[2]) - 1 : 0);
  return levelWordSeverity(upper.toLowerCase());
}

/** The OTel severity number of a level word as it appears in logs (`warn`, `ERR`, `Critical`), or undefined. */
export function levelWordSeverity(word: string): number | undefined {
  return LEVEL_WORDS.get(word) ?? LEVEL_WORDS.get(word.toLowerCase());
}

/** A severity config value (name or number), parsed to its number; errors name the accepted forms. */
export function severitySchema() {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const n = severityFromName(String(v));
    if (n === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          `not a severity: ${JSON.stringify(v)} (use TRACE, DEBUG, ` +
          `INFO, WARN, ERROR, FATAL, with an optional 2–4, or 1–24)`,
      });
      return z.NEVER;
    }
    return n;
  });
}
