import type { ClickHouseClient } from '@clickhouse/client';
import type { LogStoreTables } from '../../pipeline/host.js';
import {
  encodeCursor,
  rfc3339,
  SEVERITY_CLASSES,
  severityClass,
  type LogFilters,
  type LogsQuery,
  type TemplatesQuery,
} from './params.js';

import type { ApiLog, ApiTemplate, ParamDistribution } from './api-types.js';

export type { ApiLog, ApiTemplate, ParamDistribution };

/** Time limit and size limit of every query the API runs. */
export interface QueryLimits {
  maxExecutionSeconds: number;
  maxResultRows: number;
  /** Threads one query may use (ClickHouse max_threads); 0: the engine's default (one a core). */
  maxThreads: number;
}

/** The API asked for a template id nothing was ever stored under. */
export class UnknownTemplateError extends Error {
  constructor(readonly id: string) {
    super(`no template ${id} is stored (neither as a template nor in a template's lineage)`);
    this.name = 'UnknownTemplateError';
  }
}

/** Buckets between 60 and 120 for a range, from this list; the hourly table serves those of an hour or more. */
const BUCKET_SECONDS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600,
  2592000,
];
const TARGET_MAX_BUCKETS = 120;
/**
 * Ranges up to this long are counted from the logs themselves (exact to the second); longer ones from the hourly table.
 */
const LOGS_COUNTED_UP_TO_SECONDS = 6 * 3600;
const TOP_VALUES = 10;
const NS_PER_S = 1_000_000_000n;

export function bucketSeconds(fromNs: bigint, toNs: bigint): number {
  const seconds = Number((toNs - fromNs + NS_PER_S - 1n) / NS_PER_S);
  return BUCKET_SECONDS.find((b) => seconds / b <= TARGET_MAX_BUCKETS) ?? BUCKET_SECONDS.at(-1)!;
}

/** Bucket starts (unix seconds) covering [from, to), aligned on multiples of the bucket. */
export function bucketStarts(fromNs: bigint, toNs: bigint, bucket: number): number[] {
  const b = BigInt(bucket);
  const out: number[] = [];
  for (let s = (fromNs / NS_PER_S / b) * b; s * NS_PER_S < toNs; s += b) out.push(Number(s));
  return out;
}

/**
 * Lazy materialisation for a page of up to MAX_LIMIT + 1 rows (ClickHouse applies it to LIMIT 10 at most by default).
 */
const LAZY_SETTINGS = ', query_plan_max_limit_for_lazy_materialization = 1001';

/** Ties among records of the same nanosecond are broken by this hash, so pages neither skip nor repeat. */
const ROW_HASH = 'cityHash64(Body, ObservedTimestamp, SpanId, TraceId, ServiceName)';

/**
 * The queries of the console API. Every value from a request is a bound parameter; what is written
 * into the SQL text are the store's table names (identifiers the exporter's config checked) and
 * numbers computed here.
 */
export class LogQueries {
  private readonly logs: string;
  private readonly templates: string;
  private readonly hourly: string;
  private readonly lineageDict: string;
  private readonly textDict: string;
  private readonly settings: string;

  constructor(
    private readonly client: ClickHouseClient,
    tables: LogStoreTables,
    limits: QueryLimits,
  ) {
    const db = tables.database;
    this.logs = `${db}.${tables.logs}`;
    this.templates = `${db}.${tables.templates}`;
    this.hourly = `${db}.${tables.templates}_hourly`;
    this.lineageDict = `'${db}.${tables.templates}_lineage_dict'`;
    this.textDict = `'${db}.${tables.templates}_text_dict'`;
    // In the query itself, not as client settings: chDB would SET them on its session for good.
    const threads = limits.maxThreads > 0 ? `, max_threads = ${limits.maxThreads}` : '';
    this.settings =
      `SETTINGS readonly = 1, max_execution_time = ${limits.maxExecutionSeconds}, ` +
      `max_result_rows = ${limits.maxResultRows}, result_overflow_mode = 'throw'${threads}`;
  }

  /** The template a stored id resolves to through the lineage (the id itself when nothing replaced it). */
  private currentOf(id: string): string {
    return (
      `if(${id} = 0, toUInt64(0), arrayElement(arrayPushFront(dictGetHierarchy(${this.lineageDict}, ${id}), ` +
      `${id}), -1))`
    );
  }

  /** Every stored id whose current template is the current template of {template:UInt64}. */
  private lineageSet(param: string): string {
    const cur = this.currentOf(`toUInt64(${param})`);
    return (
      `(SELECT arrayJoin(arrayPushFront(dictGetDescendants(${this.lineageDict}, cur, 0), cur)) ` +
      `FROM (SELECT ${cur} AS cur))`
    );
  }

  private async rows<T>(query: string, params: Record<string, unknown>, extraSettings = ''): Promise<T[]> {
    const result = await this.client.query({
      query: `${query} ${this.settings}${extraSettings}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    return result.json<T>();
  }

  private logConditions(f: LogFilters, params: Record<string, unknown>): string[] {
    params.from_ns = String(f.fromNs);
    params.to_ns = String(f.toNs);
    const w = [
      'Timestamp >= fromUnixTimestamp64Nano({from_ns:Int64})',
      'Timestamp < fromUnixTimestamp64Nano({to_ns:Int64})',
    ];
    f.tokens.forEach((t, i) => {
      params[`token_${i}`] = t;
      w.push(`hasToken(lower(Body), {token_${i}:String})`);
    });
    if (f.phrase !== undefined) {
      params.phrase = f.phrase;
      w.push('positionCaseInsensitiveUTF8(Body, {phrase:String}) > 0');
    }
    if (f.services.length > 0) {
      params.services = f.services;
      w.push('ServiceName IN {services:Array(String)}');
    }
    if (f.minSeverity !== undefined) {
      params.min_severity = f.minSeverity;
      w.push('SeverityNumber >= {min_severity:UInt8}');
    }
    if (f.template !== undefined) {
      params.template = String(f.template);
      w.push(`TemplateId IN ${this.lineageSet('{template:UInt64}')}`);
    }
    if (f.traceId !== undefined) {
      params.trace_id = f.traceId;
      w.push('TraceId = {trace_id:String}');
    }
    f.attributes.forEach(([key, value], i) => {
      params[`attr_key_${i}`] = key;
      params[`attr_value_${i}`] = value;
      const k = `{attr_key_${i}:String}`;
      const v = `{attr_value_${i}:String}`;
      // A missing key reads as '': attr.k= asks for the key present with an empty value.
      const present = value === '' ? (m: string) => ` AND mapContains(${m}, ${k})` : () => '';
      w.push(
        `((LogAttributes[${k}] = ${v}${present('LogAttributes')}) OR (ResourceAttributes[${k}] = ` +
          `${v}${present('ResourceAttributes')}))`,
      );
    });
    return w;
  }

  /**
   * A page of records, newest first, ordered by time and then by a hash of what they hold (records
   * of one nanosecond). The page itself is ORDER BY Timestamp … LIMIT, which ClickHouse answers
   * reading the other columns only for the rows it returns (lazy materialisation): the hash is
   * never needed over the range. The records of the nanosecond where a page starts (the
   * cursor's), and of the one where it ends when the next record shares it, are read whole by exact
   * time, which the table's key finds at once, so ties are ordered by the hash there.
   */
  async searchLogs(q: LogsQuery): Promise<{ logs: ApiLog[]; next_cursor: string | null }> {
    const params: Record<string, unknown> = {};
    const where = this.logConditions(q, params);
    const select =
      `SELECT ${LOG_COLUMNS}, toString(${ROW_HASH}) AS row_hash ` + `FROM ${this.logs} WHERE ${where.join(' AND ')}`;
    const at = async (ns: string) =>
      (
        await this.rows<LogRow>(`${select} AND Timestamp = fromUnixTimestamp64Nano({at_ns:Int64})`, {
          ...params,
          at_ns: ns,
        })
      ).sort(newestFirst);
    let head: LogRow[] = [];
    if (q.cursor) {
      const { ns, hash, skip } = q.cursor;
      let equal = 0;
      head = (await at(String(ns))).filter((r) => {
        const h = BigInt(r.row_hash);
        return h < hash || (h === hash && ++equal > skip);
      });
      params.cursor_ns = String(ns);
    }
    let rows = head;
    const wanted = q.limit + 1 - head.length;
    if (wanted > 0) {
      params.limit = wanted;
      const before = q.cursor ? ' AND Timestamp < fromUnixTimestamp64Nano({cursor_ns:Int64})' : '';
      let tail = await this.rows<LogRow>(
        `${select}${before} ORDER BY Timestamp DESC LIMIT {limit:UInt32}`,
        params,
        LAZY_SETTINGS,
      );
      // The last row only tells that more follow. Rows of its nanosecond beyond the limit matter
      // only when the row before it shares that nanosecond: then they are read whole, ordered by hash.
      if (tail.length === wanted && wanted > 1 && tail[wanted - 2]!.ts === tail[wanted - 1]!.ts) {
        const edge = tail.at(-1)!.ts;
        tail = [...tail.filter((r) => r.ts !== edge), ...(await at(edge))];
      }
      rows = [...head, ...tail.sort(newestFirst)];
    }
    const records = rows.slice(0, q.limit);
    let nextCursor: string | null = null;
    const last = records.at(-1);
    if (rows.length > q.limit && last) {
      let same = 0;
      for (
        let i = records.length - 1;
        i >= 0 && records[i]!.ts === last.ts && records[i]!.row_hash === last.row_hash;
        i--
      )
        same++;
      const sameAsCursor =
        q.cursor !== undefined &&
        same === records.length &&
        BigInt(last.ts) === q.cursor.ns &&
        BigInt(last.row_hash) === q.cursor.hash;
      nextCursor = encodeCursor({
        ns: BigInt(last.ts),
        hash: BigInt(last.row_hash),
        skip: same + (sameAsCursor ? q.cursor!.skip : 0),
      });
    }
    return { logs: records.map(apiLog), next_cursor: nextCursor };
  }

  async histogram(
    f: LogFilters,
  ): Promise<{ bucket_seconds: number; buckets: number[]; counts: Record<string, number[]> }> {
    const bucket = bucketSeconds(f.fromNs, f.toNs);
    const params: Record<string, unknown> = { bucket };
    const where = this.logConditions(f, params);
    const rows = await this.rows<{ bucket: number; severity: number; n: string }>(
      `SELECT intDiv(toUInt32(TimestampTime), {bucket:UInt32}) * {bucket:UInt32} AS bucket, ` +
        `if(SeverityNumber BETWEEN 1 AND 24, intDiv(SeverityNumber - 1, 4), 6) AS severity, toString(count()) AS n ` +
        `FROM ${this.logs} WHERE ${where.join(' AND ')} GROUP BY bucket, severity`,
      params,
    );
    const buckets = bucketStarts(f.fromNs, f.toNs, bucket);
    const index = new Map(buckets.map((b, i) => [b, i]));
    const counts = Object.fromEntries(SEVERITY_CLASSES.map((c) => [c, new Array<number>(buckets.length).fill(0)]));
    for (const r of rows) {
      const i = index.get(Number(r.bucket));
      if (i !== undefined) counts[SEVERITY_CLASSES[r.severity]!]![i]! += Number(r.n);
    }
    return { bucket_seconds: bucket, buckets, counts };
  }

  /**
   * Counts per current template and bucket over [from, to) and over the period of the same length
   * before it. Short ranges count the logs; longer ones the hourly table, in whole hours.
   */
  private countsQuery(
    fromNs: bigint,
    toNs: bigint,
    services: string[],
    params: Record<string, unknown>,
  ): { sql: string; bucket: number; fromNs: bigint; toNs: bigint } {
    const seconds = Number((toNs - fromNs) / NS_PER_S);
    const byLogs = seconds <= LOGS_COUNTED_UP_TO_SECONDS;
    if (!byLogs) {
      const hour = 3600n * NS_PER_S;
      fromNs = (fromNs / hour) * hour;
      toNs = ((toNs + hour - 1n) / hour) * hour;
    }
    const bucket = byLogs ? bucketSeconds(fromNs, toNs) : Math.max(3600, bucketSeconds(fromNs, toNs));
    params.c_from = String(fromNs);
    params.c_to = String(toNs);
    params.c_prev = String(fromNs - (toNs - fromNs));
    params.c_bucket = bucket;
    if (services.length > 0) params.c_services = services;
    const serviceCondition = services.length > 0 ? ' AND ServiceName IN {c_services:Array(String)}' : '';
    const source = byLogs
      ? `SELECT CurrentTemplateId AS id, intDiv(toUInt32(TimestampTime), {c_bucket:UInt32}) * {c_bucket:UInt32} AS ` +
        `bucket, Timestamp >= fromUnixTimestamp64Nano({c_from:Int64}) AS current, count() AS c ` +
        `FROM ${this.logs} WHERE Timestamp >= fromUnixTimestamp64Nano({c_prev:Int64}) AND Timestamp < ` +
        `fromUnixTimestamp64Nano({c_to:Int64}) AND TemplateId != 0${serviceCondition} GROUP BY id, bucket, ` +
        `current`
      : `SELECT CurrentTemplateId AS id, intDiv(toUInt32(Hour), {c_bucket:UInt32}) * {c_bucket:UInt32} AS bucket, ` +
        `Hour >= toDateTime(intDiv({c_from:Int64}, 1000000000)) AS current, sum(Count) AS c ` +
        `FROM ${this.hourly} WHERE Hour >= toDateTime(intDiv({c_prev:Int64}, 1000000000)) AND Hour < ` +
        `toDateTime(intDiv({c_to:Int64}, 1000000000)) AND TemplateId != 0${serviceCondition} GROUP BY id, ` +
        `bucket, current`;
    const sql =
      `SELECT id, sumIf(c, current) AS count, sumIf(c, NOT current) AS previous_count, arrayFilter(x -> x.2 > 0, ` +
      `groupArrayIf((bucket, c), current)) AS series ` +
      `FROM (${source}) GROUP BY id`;
    return { sql, bucket, fromNs, toNs };
  }

  /** What log_templates knows of each current template, gathered over its lineage. */
  private metaQuery(): string {
    return (
      `SELECT cur AS id, min(FirstSeen) AS first_seen, max(LastSeen) AS last_seen, groupUniqArrayArray(Services) AS ` +
      `services, ` +
      `max(MaxSeverityNumber) AS max_severity, anyLastIf(Source, TemplateId = cur) AS source, ` +
      `if(countIf(TemplateId = cur) > 0, anyIf(Sample, TemplateId = cur), any(Sample)) AS sample, ` +
      `groupUniqArrayIf(TemplateId, TemplateId != cur) AS lineage ` +
      `FROM (SELECT *, ${this.currentOf('TemplateId')} AS cur FROM ${this.templates}) GROUP BY cur`
    );
  }

  private templateSelect(): string {
    return (
      `toString(id) AS id, dictGetOrDefault(${this.textDict}, 'Text', id, '') AS text, toString(c.count) AS count, ` +
      `toString(c.previous_count) AS previous_count, ` +
      `arrayMap(x -> (toString(x.1), toString(x.2)), c.series) AS series, ` +
      `toString(toUnixTimestamp64Nano(m.first_seen)) AS first_seen, ` +
      `toString(toUnixTimestamp64Nano(m.last_seen)) AS last_seen, m.services AS services, m.max_severity AS ` +
      `max_severity, m.source AS source, m.sample AS sample, ` +
      `arrayMap(x -> toString(x), arraySort(m.lineage)) AS lineage`
    );
  }

  async listTemplates(
    q: TemplatesQuery,
  ): Promise<{ bucket_seconds: number; buckets: number[]; templates: ApiTemplate[] }> {
    const params: Record<string, unknown> = { limit: q.limit };
    const counts = this.countsQuery(q.fromNs, q.toNs, q.services, params);
    const where = ['c.count > 0'];
    if (q.q !== undefined) {
      params.q = q.q;
      where.push('positionCaseInsensitiveUTF8(text, {q:String}) > 0');
    }
    const order = {
      count: 'c.count DESC, id',
      new: 'm.first_seen DESC, c.count DESC, id',
      change:
        'c.previous_count = 0 DESC, (c.count - c.previous_count) / greatest(c.previous_count, 1) DESC, ' +
        'c.count DESC, id',
    }[q.sort];
    const rows = await this.rows<TemplateRow>(
      `SELECT ${this.templateSelect()} FROM (${counts.sql}) AS c LEFT JOIN (${this.metaQuery()}) AS m ON c.id = m.id ` +
        `WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT {limit:UInt32}`,
      params,
    );
    const buckets = bucketStarts(counts.fromNs, counts.toNs, counts.bucket);
    return { bucket_seconds: counts.bucket, buckets, templates: rows.map((r) => apiTemplate(r, buckets, q.fromNs)) };
  }

  /** Every stored id whose current template is the given id's. */
  async lineageIds(id: bigint): Promise<string[]> {
    const rows = await this.rows<{ id: string }>(
      `SELECT toString(id) AS id FROM (SELECT arrayJoin(arrayPushFront(dictGetDescendants(${this.lineageDict}, cur, ` +
        `0), cur)) AS id FROM (SELECT ${this.currentOf('toUInt64({template:UInt64})')} AS cur))`,
      { template: String(id) },
    );
    return rows.map((r) => r.id);
  }

  /** One template (any id of its lineage) over a range, with the values each of its parameters took. */
  async template(
    id: bigint,
    fromNs: bigint,
    toNs: bigint,
  ): Promise<{ template: ApiTemplate; params: ParamDistribution[]; bucket_seconds: number; buckets: number[] }> {
    const params: Record<string, unknown> = { template: String(id) };
    const [known] = await this.rows<{ cur: string; stored: number }>(
      `SELECT toString(${this.currentOf('toUInt64({template:UInt64})')}) AS cur, ` +
        `(SELECT count() FROM ${this.templates} WHERE TemplateId IN ${this.lineageSet('{template:UInt64}')}) AS stored`,
      params,
    );
    if (!known || Number(known.stored) === 0) throw new UnknownTemplateError(String(id));
    params.cur = known.cur;
    const counts = this.countsQuery(fromNs, toNs, [], params);
    const [row] = await this.rows<TemplateRow>(
      `SELECT ${this.templateSelect()} FROM (${this.metaQuery()}) AS m LEFT JOIN (${counts.sql}) AS c ON c.id = ` +
        `m.id WHERE m.id = {cur:UInt64}`,
      params,
    );
    if (!row) throw new UnknownTemplateError(String(id));
    const buckets = bucketStarts(counts.fromNs, counts.toNs, counts.bucket);
    const template = apiTemplate(row, buckets, fromNs);
    return {
      template,
      params: await this.paramDistribution(known.cur, template.text, fromNs, toNs),
      bucket_seconds: counts.bucket,
      buckets,
    };
  }

  /**
   * Parameters by position over the range. Records stored under an older id of the lineage carry
   * the parameters of that older template; theirs are read again from the body with the current
   * template's pattern (whitespace runs as any whitespace, for its spacing variants).
   */
  private async paramDistribution(
    cur: string,
    text: string,
    fromNs: bigint,
    toNs: bigint,
  ): Promise<ParamDistribution[]> {
    const positions = text.split('<*>').length - 1;
    if (positions === 0) return [];
    const params: Record<string, unknown> = {
      cur,
      from_ns: String(fromNs),
      to_ns: String(toNs),
      pattern: templatePattern(text),
      positions,
      top: TOP_VALUES,
    };
    const source =
      `SELECT arrayJoin(arrayEnumerate(p)) AS position, p[position] AS value FROM (` +
      `SELECT if(TemplateId = {cur:UInt64} AND length(TemplateParams) = {positions:UInt32}, TemplateParams, ` +
      `extractGroups(Body, {pattern:String})) AS p ` +
      `FROM ${this.logs} WHERE Timestamp >= fromUnixTimestamp64Nano({from_ns:Int64}) AND Timestamp < ` +
      `fromUnixTimestamp64Nano({to_ns:Int64}) ` +
      `AND TemplateId IN (SELECT arrayJoin(arrayPushFront(dictGetDescendants(${this.lineageDict}, ` +
      `toUInt64({cur:UInt64}), 0), toUInt64({cur:UInt64}))))) ` +
      `WHERE length(p) = {positions:UInt32}`;
    const rows = await this.rows<{ position: number; value: string; n: string; total: string; distinct: string }>(
      `SELECT position, value, toString(c) AS n, toString(sum(c) OVER (PARTITION BY position)) AS total, ` +
        `toString(count() OVER (PARTITION BY position)) AS distinct FROM (` +
        `SELECT position, value, count() AS c FROM (${source}) GROUP BY position, value) ORDER BY position, c DESC, ` +
        `value LIMIT {top:UInt32} BY position`,
      params,
    );
    const out: ParamDistribution[] = [];
    for (let position = 0; position < positions; position++) out.push({ position, distinct: 0, top: [] });
    for (const r of rows) {
      const d = out[r.position - 1]!;
      d.distinct = Number(r.distinct);
      d.top.push({ value: r.value, count: Number(r.n), share: Number(r.n) / Number(r.total) });
    }
    return out;
  }
}

/** The template as an RE2 pattern capturing each <*>: literal text escaped, whitespace runs as \s+. */
export function templatePattern(text: string): string {
  const literal = (s: string) =>
    s
      .split(/\s+/)
      .map((w) => w.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&'))
      .join('\\s+');
  return `(?s)^${text.split('<*>').map(literal).join('(.*?)')}$`;
}

const LOG_COLUMNS = [
  'toString(toUnixTimestamp64Nano(Timestamp)) AS ts',
  'toString(toUnixTimestamp64Nano(ObservedTimestamp)) AS observed',
  'TraceId',
  'SpanId',
  'TraceFlags',
  'SeverityText',
  'SeverityNumber',
  'ServiceName',
  'Body',
  'ResourceAttributes',
  'ScopeName',
  'ScopeVersion',
  'ScopeAttributes',
  'LogAttributes',
  'toString(TemplateId) AS template_id',
  'toString(CurrentTemplateId) AS current_template_id',
  'Template',
  'TemplateParams',
].join(', ');

interface LogRow {
  ts: string;
  observed: string;
  TraceId: string;
  SpanId: string;
  TraceFlags: number;
  SeverityText: string;
  SeverityNumber: number;
  ServiceName: string;
  Body: string;
  ResourceAttributes: Record<string, string>;
  ScopeName: string;
  ScopeVersion: string;
  ScopeAttributes: Record<string, string>;
  LogAttributes: Record<string, string>;
  template_id: string;
  current_template_id: string;
  Template: string;
  TemplateParams: string[];
  row_hash: string;
}

/** Time, then the tie-breaking hash, both descending: the order pages follow. */
function newestFirst(a: LogRow, b: LogRow): number {
  const ta = BigInt(a.ts);
  const tb = BigInt(b.ts);
  if (ta !== tb) return ta > tb ? -1 : 1;
  const ha = BigInt(a.row_hash);
  const hb = BigInt(b.row_hash);
  return ha === hb ? 0 : ha > hb ? -1 : 1;
}

function apiLog(r: LogRow): ApiLog {
  return {
    timestamp: rfc3339(r.ts),
    observed_timestamp: rfc3339(r.observed),
    trace_id: r.TraceId,
    span_id: r.SpanId,
    trace_flags: r.TraceFlags,
    severity_text: r.SeverityText,
    severity_number: r.SeverityNumber,
    service_name: r.ServiceName,
    body: r.Body,
    resource_attributes: r.ResourceAttributes,
    scope_name: r.ScopeName,
    scope_version: r.ScopeVersion,
    scope_attributes: r.ScopeAttributes,
    log_attributes: r.LogAttributes,
    template_id: r.template_id,
    current_template_id: r.current_template_id,
    template: r.template_id === '0' || r.Template === '' ? null : r.Template,
    template_params: r.TemplateParams,
  };
}

interface TemplateRow {
  id: string;
  text: string;
  count: string;
  previous_count: string;
  series: Array<[string, string]>;
  first_seen: string;
  last_seen: string;
  services: string[];
  max_severity: number;
  source: string;
  sample: string;
  lineage: string[];
}

function apiTemplate(r: TemplateRow, buckets: number[], fromNs: bigint): ApiTemplate {
  const count = Number(r.count);
  const previous = Number(r.previous_count);
  const index = new Map(buckets.map((b, i) => [b, i]));
  const series = new Array<number>(buckets.length).fill(0);
  for (const [bucket, c] of r.series) {
    const i = index.get(Number(bucket));
    if (i !== undefined) series[i]! += Number(c);
  }
  const seen = (ns: string) => (ns === '0' ? null : rfc3339(ns));
  return {
    id: r.id,
    text: r.text,
    count,
    previous_count: previous,
    change: previous === 0 ? null : (count - previous) / previous,
    first_seen: seen(r.first_seen),
    last_seen: seen(r.last_seen),
    new: r.first_seen !== '0' && BigInt(r.first_seen) >= fromNs,
    services: [...r.services].sort(),
    max_severity: severityClass(r.max_severity),
    source: r.source === 'llm' ? 'llm' : 'miner',
    sample: r.sample,
    lineage: r.lineage,
    series,
  };
}
