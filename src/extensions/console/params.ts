/**
 * The query API's parameters, parsed and checked before any SQL is written: a bad one is an
 * ApiParameterError naming it, answered 400. Values reach ClickHouse only as bound parameters.
 */

export class ApiParameterError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(`${parameter}: ${message}`);
    this.name = 'ApiParameterError';
  }
}

const NANOS_PER_MS = 1_000_000n;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;
const RELATIVE = /^-(\d{1,6})(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** The latest time DateTime64(9) holds (2262-04-11). */
const MAX_NANOS = 9_223_372_036_854_775_807n;

/** RFC 3339 (nanoseconds kept), `now`, or relative to now: `-15m`, `-1h`, `-7d`, `-30s`, `-2w`. */
export function parseTime(parameter: string, text: string, nowMs: number): bigint {
  const s = text.trim();
  if (s === 'now') return BigInt(nowMs) * NANOS_PER_MS;
  const rel = RELATIVE.exec(s);
  if (rel) return BigInt(nowMs - Number(rel[1]) * UNIT_MS[rel[2]!]!) * NANOS_PER_MS;
  const m = RFC3339.exec(s);
  if (!m)
    throw new ApiParameterError(
      parameter,
      'expected an RFC 3339 time (2026-12-02T05:30:00Z), now, or a relative time like -15m, -1h, -7d; ' +
        `got ${JSON.stringify(text)}`,
    );
  const [, y, mo, d, h, mi, sec, frac = '', zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  const check = new Date(ms);
  if (
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(sec) > 59
  ) {
    throw new ApiParameterError(parameter, `not a valid date and time: ${JSON.stringify(text)}`);
  }
  let offsetMs = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    offsetMs = sign * (Number(zone!.slice(1, 3)) * 3_600_000 + Number(zone!.slice(4, 6)) * 60_000);
  }
  const ns = BigInt(ms - offsetMs) * NANOS_PER_MS + BigInt(frac.padEnd(9, '0'));
  if (ns < 0n || ns > MAX_NANOS)
    throw new ApiParameterError(parameter, `outside what is stored (1970 to 2262): ${JSON.stringify(text)}`);
  return ns;
}

/** Unix nanoseconds as RFC 3339 with nine fractional digits, the API's time format. */
export function rfc3339(ns: bigint | string): string {
  const n = typeof ns === 'bigint' ? ns : BigInt(ns);
  const iso = new Date(Number(n / NANOS_PER_MS)).toISOString();
  return `${iso.slice(0, 19)}.${(n % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

export const SEVERITY_NAMES: Record<string, number> = {
  trace: 1,
  debug: 5,
  info: 9,
  warn: 13,
  warning: 13,
  error: 17,
  fatal: 21,
};

/** The range classes SeverityNumber falls into (OTel log data model), for histograms and the highest severity. */
export const SEVERITY_CLASSES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'UNSPECIFIED'] as const;

export function severityClass(n: number): (typeof SEVERITY_CLASSES)[number] {
  return n <= 0 || n > 24 ? 'UNSPECIFIED' : SEVERITY_CLASSES[Math.floor((n - 1) / 4)]!;
}

const UINT64_MAX = 18_446_744_073_709_551_615n;

export function parseTemplateId(parameter: string, text: string): bigint {
  if (!/^\d{1,20}$/.test(text))
    throw new ApiParameterError(parameter, `expected a template id (a decimal UInt64), got ${JSON.stringify(text)}`);
  const id = BigInt(text);
  if (id > UINT64_MAX) throw new ApiParameterError(parameter, `larger than a UInt64: ${text}`);
  return id;
}

/** What selects log records, shared by the logs, the histogram and the tail. */
export interface LogFilters {
  fromNs: bigint;
  toNs: bigint;
  /** Lower-cased words of `q`; each must be a token of the body. */
  tokens: string[];
  /** `q` itself, when it holds more than one token or a separator: the body must contain it (any case). */
  phrase: string | undefined;
  services: string[];
  minSeverity: number | undefined;
  template: bigint | undefined;
  traceId: string | undefined;
  /** `attr.<key>=<value>`: a log or resource attribute with that value. */
  attributes: Array<[string, string]>;
}

export interface LogsQuery extends LogFilters {
  limit: number;
  cursor: LogCursor | undefined;
}

/**
 * Where the previous page ended: its last record's time, its tie-breaking hash, and how many records with both were
 * returned.
 */
export interface LogCursor {
  ns: bigint;
  hash: bigint;
  skip: number;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
export const DEFAULT_RANGE_MS = 3_600_000;
const MAX_TOKENS = 16;
const MAX_ATTRIBUTES = 16;
const MAX_TEXT = 1000;

/** ClickHouse's token separators are every ASCII character that is not a letter or a digit. */
export function bodyTokens(q: string): string[] {
  return asciiLower(q)
    .split(/[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+/)
    .filter((t) => t.length > 0);
}

/** ClickHouse's lower(), which the body's token index is built on, changes ASCII letters only. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Reads URLSearchParams once, refusing unknown and repeated parameters. */
class Params {
  private readonly seen = new Map<string, string[]>();

  constructor(search: URLSearchParams, allowed: ReadonlySet<string>, repeatable: ReadonlySet<string> = new Set()) {
    for (const [key, value] of search) {
      const known = allowed.has(key) || (allowed.has('attr.*') && key.startsWith('attr.'));
      if (!known)
        throw new ApiParameterError(key, `unknown parameter (this endpoint takes ${[...allowed].join(', ')})`);
      const values = this.seen.get(key) ?? [];
      values.push(value);
      if (values.length > 1 && !repeatable.has(key)) throw new ApiParameterError(key, 'given more than once');
      this.seen.set(key, values);
    }
  }

  one(key: string): string | undefined {
    const v = this.seen.get(key)?.[0];
    return v === undefined || v === '' ? undefined : v;
  }

  all(key: string): string[] {
    return (this.seen.get(key) ?? []).filter((v) => v !== '');
  }

  keys(): string[] {
    return [...this.seen.keys()];
  }
}

function text(parameter: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.length > MAX_TEXT) throw new ApiParameterError(parameter, `longer than ${MAX_TEXT} characters`);
  return value;
}

function range(p: Params, nowMs: number): { fromNs: bigint; toNs: bigint } {
  const toNs = p.one('to') === undefined ? BigInt(nowMs) * NANOS_PER_MS : parseTime('to', p.one('to')!, nowMs);
  const fromNs =
    p.one('from') === undefined
      ? toNs - BigInt(DEFAULT_RANGE_MS) * NANOS_PER_MS
      : parseTime('from', p.one('from')!, nowMs);
  if (fromNs >= toNs) throw new ApiParameterError('from', 'must be before to');
  return { fromNs, toNs };
}

export function parseLimit(value: string | undefined, max = MAX_LIMIT, defaultValue = DEFAULT_LIMIT): number {
  if (value === undefined) return defaultValue;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new ApiParameterError('limit', `expected a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n > max) throw new ApiParameterError('limit', `at most ${max}, got ${value}`);
  return n;
}

export function parseSeverity(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const byName = SEVERITY_NAMES[value.trim().toLowerCase()];
  if (byName !== undefined) return byName;
  if (/^\d{1,2}$/.test(value) && Number(value) >= 1 && Number(value) <= 24) return Number(value);
  throw new ApiParameterError(
    'severity',
    `expected trace, debug, info, warn, error, fatal or a SeverityNumber from 1 to 24, got ${JSON.stringify(value)}`,
  );
}

const FILTER_PARAMS = ['q', 'service', 'severity', 'template', 'trace_id', 'from', 'to', 'attr.*'];

function filters(p: Params, nowMs: number): LogFilters {
  const q = text('q', p.one('q'));
  const tokens = q === undefined ? [] : bodyTokens(q);
  if (q !== undefined && tokens.length === 0)
    throw new ApiParameterError('q', 'holds no word to search for (letters or digits)');
  if (tokens.length > MAX_TOKENS) throw new ApiParameterError('q', `at most ${MAX_TOKENS} words`);
  const traceId = p.one('trace_id');
  if (traceId !== undefined && !/^[0-9a-fA-F]{32}$/.test(traceId))
    throw new ApiParameterError('trace_id', `expected 32 hexadecimal digits, got ${JSON.stringify(traceId)}`);
  const attributes: Array<[string, string]> = [];
  for (const key of p.keys()) {
    if (!key.startsWith('attr.')) continue;
    const name = key.slice('attr.'.length);
    if (name === '') throw new ApiParameterError(key, 'name the attribute: attr.<key>=<value>');
    text(key, name);
    attributes.push([name, text(key, p.all(key)[0] ?? '')!]);
  }
  if (attributes.length > MAX_ATTRIBUTES)
    throw new ApiParameterError('attr', `at most ${MAX_ATTRIBUTES} attribute filters`);
  const template = p.one('template');
  return {
    ...range(p, nowMs),
    tokens,
    phrase: q !== undefined && (tokens.length > 1 || tokens[0] !== asciiLower(q)) ? q : undefined,
    services: p.all('service').map((s) => text('service', s)!),
    minSeverity: parseSeverity(p.one('severity')),
    template: template === undefined ? undefined : parseTemplateId('template', template),
    traceId: traceId?.toLowerCase(),
    attributes,
  };
}

function parseCursor(value: string | undefined): LogCursor | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,19})\.(\d{1,20})\.(\d{1,6})$/.exec(Buffer.from(value, 'base64url').toString('latin1'));
  if (!m) throw new ApiParameterError('cursor', 'not a cursor this API returned (pass next_cursor as it is)');
  return { ns: BigInt(m[1]!), hash: BigInt(m[2]!), skip: Number(m[3]) };
}

export function encodeCursor(c: LogCursor): string {
  return Buffer.from(`${c.ns}.${c.hash}.${c.skip}`, 'latin1').toString('base64url');
}

export function parseLogsQuery(search: URLSearchParams, nowMs = Date.now()): LogsQuery {
  const p = new Params(search, new Set([...FILTER_PARAMS, 'limit', 'cursor']), new Set(['service']));
  return { ...filters(p, nowMs), limit: parseLimit(p.one('limit')), cursor: parseCursor(p.one('cursor')) };
}

export function parseHistogramQuery(search: URLSearchParams, nowMs = Date.now()): LogFilters {
  // The same links as the logs list, so its paging parameters are accepted and unused.
  const p = new Params(search, new Set([...FILTER_PARAMS, 'limit', 'cursor']), new Set(['service']));
  if (p.one('limit') !== undefined) parseLimit(p.one('limit'));
  return filters(p, nowMs);
}

/** The tail takes the logs' filters; a time range and paging mean nothing for records yet to come and are ignored. */
export function parseTailQuery(search: URLSearchParams, nowMs = Date.now()): LogFilters {
  const p = new Params(search, new Set([...FILTER_PARAMS, 'limit', 'cursor']), new Set(['service']));
  return filters(p, nowMs);
}

export type TemplateSort = 'count' | 'new' | 'change';

export interface TemplatesQuery {
  fromNs: bigint;
  toNs: bigint;
  services: string[];
  q: string | undefined;
  sort: TemplateSort;
  limit: number;
}

export function parseTemplatesQuery(search: URLSearchParams, nowMs = Date.now()): TemplatesQuery {
  const p = new Params(search, new Set(['from', 'to', 'service', 'q', 'sort', 'limit']), new Set(['service']));
  const sort = p.one('sort') ?? 'count';
  if (sort !== 'count' && sort !== 'new' && sort !== 'change')
    throw new ApiParameterError('sort', `expected count, new or change, got ${JSON.stringify(sort)}`);
  return {
    ...range(p, nowMs),
    services: p.all('service').map((s) => text('service', s)!),
    q: text('q', p.one('q')),
    sort,
    limit: parseLimit(p.one('limit')),
  };
}

export function parseTemplateQuery(search: URLSearchParams, nowMs = Date.now()): { fromNs: bigint; toNs: bigint } {
  return range(new Params(search, new Set(['from', 'to'])), nowMs);
}
