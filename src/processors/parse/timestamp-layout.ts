import { zonedToUtcMs } from '../../internal/time-zones.js';

/**
 * Timestamp layouts as the OTel Collector's time_parser takes them: `strptime` directives
 * (`%Y-%m-%d %H:%M:%S.%f %z`) or Go reference-time layouts (`2006-01-02T15:04:05.000Z07:00`),
 * compiled once into a regex that finds the timestamp anywhere in a text and a list of what each
 * group holds. Epoch layouts (`s`, `ms`, `us`, `ns`, `s.ms`, `s.us`, `s.ns`) read a number.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH_NAMES = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

type Field =
  | 'year'
  | 'year2'
  | 'month'
  | 'monthName'
  | 'day'
  | 'hour'
  | 'hour12'
  | 'minute'
  | 'second'
  | 'fraction'
  | 'ampm'
  | 'offset'
  | 'zoneName'
  | 'epoch'
  | 'skip';

const DIRECTIVES: Record<string, { re: string; field: Field }> = {
  Y: { re: '(\\d{4})', field: 'year' },
  y: { re: '(\\d{2})', field: 'year2' },
  m: { re: '(1[0-2]|0?[1-9])', field: 'month' },
  b: { re: '([A-Za-z]{3})', field: 'monthName' },
  h: { re: '([A-Za-z]{3})', field: 'monthName' },
  B: { re: '([A-Za-z]{3,9})', field: 'monthName' },
  d: { re: '(3[01]|[12]\\d|0?[1-9])', field: 'day' },
  e: { re: ' ?(3[01]|[12]\\d|[1-9])', field: 'day' },
  H: { re: '(2[0-3]|[01]?\\d)', field: 'hour' },
  I: { re: '(1[0-2]|0?[1-9])', field: 'hour12' },
  M: { re: '([0-5]\\d)', field: 'minute' },
  S: { re: '([0-5]\\d|60)', field: 'second' },
  f: { re: '(\\d{1,9})', field: 'fraction' },
  L: { re: '(\\d{3})', field: 'fraction' },
  p: { re: '([AaPp][Mm])', field: 'ampm' },
  z: { re: '([Zz]|[+-]\\d{2}(?::?\\d{2})?)', field: 'offset' },
  Z: { re: '([A-Za-z]{1,5})', field: 'zoneName' },
  a: { re: '(?:[A-Za-z]{3})', field: 'skip' },
  A: { re: '(?:[A-Za-z]{6,9})', field: 'skip' },
  s: { re: '(\\d{1,12})', field: 'epoch' },
};

/** Go reference-time tokens, longest first, as strptime directives. */
const GO_TOKENS: Array<[string, string]> = [
  ['January', '%B'],
  ['Monday', '%A'],
  ['Z07:00', '%z'],
  ['-07:00', '%z'],
  ['Z0700', '%z'],
  ['-0700', '%z'],
  ['2006', '%Y'],
  ['Jan', '%b'],
  ['Mon', '%a'],
  ['MST', '%Z'],
  ['-07', '%z'],
  ['_2', '%e'],
  ['01', '%m'],
  ['02', '%d'],
  ['03', '%I'],
  ['04', '%M'],
  ['05', '%S'],
  ['06', '%y'],
  ['15', '%H'],
  ['PM', '%p'],
  ['pm', '%p'],
  ['1', '%m'],
  ['2', '%d'],
  ['3', '%I'],
  ['4', '%M'],
  ['5', '%S'],
];

/** A Go layout as a strptime layout; fractions `.000` / `.999…` (or with a comma) become %f. */
export function goLayoutToStrptime(layout: string): string {
  let out = '';
  for (let i = 0; i < layout.length;) {
    const frac = /^[.,](0+|9+)(?![\d])/.exec(layout.slice(i));
    if (frac) {
      out += `${layout[i]}%f`;
      i += frac[0].length;
      continue;
    }
    const token = GO_TOKENS.find(([t]) => layout.startsWith(t, i));
    if (token) {
      out += token[1];
      i += token[0].length;
    } else {
      out += layout[i] === '%' ? '%%' : layout[i];
      i++;
    }
  }
  return out;
}

const EPOCH_LAYOUTS = ['s', 'ms', 'us', 'ns', 's.ms', 's.us', 's.ns'] as const;
export type EpochLayout = (typeof EPOCH_LAYOUTS)[number];

export function isEpochLayout(layout: string): layout is EpochLayout {
  return (EPOCH_LAYOUTS as readonly string[]).includes(layout);
}

export class TimestampLayout {
  readonly regex: RegExp;
  private readonly fields: Field[];

  /** Throws Error naming the unsupported directive. */
  constructor(
    strptime: string,
    private readonly location: string,
  ) {
    let source = '';
    const fields: Field[] = [];
    for (let i = 0; i < strptime.length; i++) {
      const c = strptime[i]!;
      if (c !== '%') {
        source += c === ' ' ? '\\s+' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        continue;
      }
      const d = strptime[++i];
      if (d === '%') {
        source += '%';
        continue;
      }
      if (d === 'T' || d === 'F' || d === 'D') {
        const expanded =
          d === 'T' ? ['H', ':', 'M', ':', 'S'] : d === 'F' ? ['Y', '-', 'm', '-', 'd'] : ['m', '/', 'd', '/', 'y'];
        for (const part of expanded) {
          const dir = DIRECTIVES[part];
          if (dir) {
            source += dir.re;
            fields.push(dir.field);
          } else source += part;
        }
        continue;
      }
      const dir = d === undefined ? undefined : DIRECTIVES[d];
      if (!dir)
        throw new Error(
          `unsupported directive %${d ?? ''} (supported: %${Object.keys(DIRECTIVES).join(' %')} %T %F %D %%)`,
        );
      source += dir.re;
      if (dir.field !== 'skip') fields.push(dir.field);
    }
    if (!fields.some((f) => f === 'hour' || f === 'hour12' || f === 'epoch' || f === 'day'))
      throw new Error('a layout needs at least a day or a time (e.g. %d or %H)');
    this.regex = new RegExp(`(?<![\\d])${source}(?![\\d])`);
    this.fields = fields;
  }

  /**
   * Unix nanoseconds of the first timestamp found in the text; undefined when there is none,
   * 'invalid' when it is not a real date.
   */
  find(text: string, now: Date): bigint | 'invalid' | undefined {
    const m = this.regex.exec(text);
    if (!m) return undefined;
    let year = now.getUTCFullYear();
    let month = 0;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let nanos = 0;
    let pm: boolean | undefined;
    let offsetMin: number | undefined;
    let epochSeconds: number | undefined;
    let dateGiven = false;
    for (let i = 0; i < this.fields.length; i++) {
      const v = m[i + 1]!;
      switch (this.fields[i]) {
        case 'year':
          year = Number(v);
          break;
        case 'year2':
          year = 2000 + Number(v) - (Number(v) >= 69 ? 100 : 0);
          break;
        case 'month':
          month = Number(v) - 1;
          dateGiven = true;
          break;
        case 'monthName': {
          const lower = v.toLowerCase();
          month = lower.length === 3 ? MONTHS.indexOf(lower) : MONTH_NAMES.indexOf(lower);
          if (month < 0) return 'invalid';
          dateGiven = true;
          break;
        }
        case 'day':
          day = Number(v);
          dateGiven = true;
          break;
        case 'hour':
          hour = Number(v);
          break;
        case 'hour12':
          hour = Number(v) % 12;
          break;
        case 'ampm':
          pm = v.toLowerCase() === 'pm';
          break;
        case 'minute':
          minute = Number(v);
          break;
        case 'second':
          second = Math.min(Number(v), 59);
          break;
        case 'fraction':
          nanos = Number(v.padEnd(9, '0'));
          break;
        case 'offset':
          offsetMin =
            v === 'Z' || v === 'z'
              ? 0
              : (v[0] === '-' ? -1 : 1) * (Number(v.slice(1, 3)) * 60 + Number(v.replace(':', '').slice(3, 5) || '0'));
          break;
        case 'zoneName':
          if (/^(?:UTC|GMT|Z)$/i.test(v)) offsetMin = 0;
          break;
        case 'epoch':
          epochSeconds = Number(v);
          break;
      }
    }
    if (epochSeconds !== undefined) return BigInt(epochSeconds) * 1_000_000_000n + BigInt(nanos);
    if (pm !== undefined && pm) hour += 12;
    if (!dateGiven) {
      month = now.getUTCMonth();
      day = now.getUTCDate();
    }
    const check = new Date(Date.UTC(year, month, day));
    if (check.getUTCMonth() !== month || check.getUTCDate() !== day) return 'invalid';
    const ms =
      offsetMin !== undefined
        ? Date.UTC(year, month, day, hour, minute, second) - offsetMin * 60_000
        : zonedToUtcMs(year, month, day, hour, minute, second, this.location);
    return BigInt(ms) * 1_000_000n + BigInt(nanos);
  }
}

/** A number or numeric text in an epoch layout to unix nanoseconds; undefined when it is not one. */
export function parseEpoch(v: unknown, layout: EpochLayout): bigint | undefined {
  let text: string;
  if (typeof v === 'bigint') text = v.toString();
  else if (typeof v === 'number' && Number.isFinite(v)) text = String(v);
  else if (typeof v === 'string' && /^\d+(?:\.\d+)?$/.test(v)) text = v;
  else return undefined;
  if (/e/i.test(text)) return undefined;
  const [whole, frac = ''] = text.split('.') as [string, string?];
  const unit = layout.startsWith('s') ? 9 : layout === 'ms' ? 6 : layout === 'us' ? 3 : 0;
  const fracDigits = frac.slice(0, unit).padEnd(unit, '0');
  return BigInt(whole) * 10n ** BigInt(unit) + (unit > 0 ? BigInt(fracDigits) : 0n);
}
