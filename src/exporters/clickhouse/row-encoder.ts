import { Compressor, Decompressor } from 'zstd-napi';
import { ByteWriter } from './byte-writer.js';
import { MAX_UNIX_NANO } from '../../pipeline/limits.js';
import type { NewTemplate } from '../../pipeline/component.js';
import {
  anyValueToString,
  type AnyValue,
  type Attributes,
  type LogBatch,
  type LogRecord,
  type TemplateRef,
} from '../../pipeline/model.js';

/** The otel_logs columns an insert writes, in the order of the SELECT list. */
export const LOG_COLUMNS = [
  'Timestamp',
  'ObservedTimestamp',
  'TraceId',
  'SpanId',
  'TraceFlags',
  'SeverityText',
  'SeverityNumber',
  'ServiceName',
  'Body',
  'ResourceSchemaUrl',
  'ResourceAttributes',
  'ScopeSchemaUrl',
  'ScopeName',
  'ScopeVersion',
  'ScopeAttributes',
  'LogAttributes',
  'EventName',
  'TemplateId',
  'TemplateParams',
] as const;

/** What each row carries; resource and scope columns come from the per-insert tables by index. */
const ROW_STRUCTURE =
  'Timestamp DateTime64(9), ObservedTimestamp DateTime64(9), TraceId String, SpanId String, TraceFlags UInt8, ' +
  'SeverityText String, SeverityNumber UInt8, Body String, LogAttributes Map(LowCardinality(String), String), ' +
  'EventName String, TemplateId UInt64, TemplateParams Array(String), r UInt32, s UInt32';

/** Inside a $$…$$ literal: JSON text written by ByteWriter has `$` only as \u0024, so it cannot end it. */
const RESOURCE_TABLE_TYPE = 'Array(Tuple(String, String, Map(String, String)))';
const SCOPE_TABLE_TYPE = 'Array(Tuple(String, String, String, Map(String, String)))';

/**
 * An insert must never hold more partitions (days, PARTITION BY toDate(Timestamp)) than
 * ClickHouse's max_partitions_per_insert_block (100 by default) allows, or it is refused with
 * TOO_MANY_PARTS whatever the retries. Rows are grouped by UTC day; the server's time zone may
 * move a UTC day across two of its days, so a part holds at most half the limit.
 */
export const MAX_DAYS_PER_PART = 50;
const NANOS_PER_DAY = 86_400_000_000_000n;

/**
 * One part's rows: JSONCompactEachRow lines, each ending in a newline (so a part can be cut at any
 * line for bisection), compressed as one zstd frame when the batch is queued. The queue, its
 * memory cache and chDB's file hold 40 bytes a row instead of 340, and a server takes the frame as
 * it is; level 1 costs ~0.4 µs a row to compress and ~0.2 to decompress (D85).
 */
export interface RowsPart {
  zstd: Buffer;
  /** Lines in the part. */
  rows: number;
  /** Bytes of the lines, uncompressed. */
  bytes: number;
}

/**
 * A batch as the logs insert sends it: the resource and scope tables once (JSON texts, one
 * literal each, so the statement's AST stays a few dozen nodes whatever the number of resources)
 * and the rows, grouped in parts of at most MAX_DAYS_PER_PART days.
 */
export interface LogsInsert {
  resources: string;
  scopes: string;
  parts: RowsPart[];
}

const rowsCompressor = new Compressor();
rowsCompressor.setParameters({ compressionLevel: 1 });
const rowsDecompressor = new Decompressor();

/** Compresses JSONCompactEachRow lines into a part. */
export function rowsPart(lines: Uint8Array, rows: number): RowsPart {
  return { zstd: rowsCompressor.compress(lines), rows, bytes: lines.byteLength };
}

/** A part's lines, decompressed. */
export function partLines(part: RowsPart): Buffer {
  return rowsDecompressor.decompress(part.zstd);
}

/**
 * Writers kept from one insert to the next, so an insert's rows are written into a buffer already
 * grown to their size: no doubling copies, no new 32 MiB buffer an insert. Most inserts have one
 * part; builders open at once (one per exporter) each take their own.
 */
const KEPT_WRITERS: ByteWriter[] = [new ByteWriter(), new ByteWriter()];

function takeWriter(): ByteWriter {
  return KEPT_WRITERS.pop() ?? new ByteWriter();
}

function releaseWriter(writer: ByteWriter): void {
  writer.reset();
  if (KEPT_WRITERS.length < 2) KEPT_WRITERS.push(writer);
}

/** A JSON string literal that can sit inside a $$…$$ literal; a lone surrogate becomes U+FFFD. */
function jsonText(s: string): string {
  const json = JSON.stringify(s.toWellFormed());
  return json.includes('$') ? json.replaceAll('$', '\\u0024') : json;
}

function jsonMap(attrs: Attributes): string {
  const keys = Object.keys(attrs).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (i > 0) out += ',';
    out += `${jsonText(k)}:${jsonText(anyValueToString(attrs[k] as AnyValue))}`;
  }
  return `${out}}`;
}

/**
 * Attribute maps of one service mostly have the same keys in the same order, so the sorted order
 * and the JSON-escaped keys of the last key list seen are reused while the keys stay the same.
 */
class JsonMapEncoder {
  private keys: string[] = [];
  private order: number[] = [];
  private escaped: string[] = [];

  write(out: ByteWriter, attrs: Attributes): void {
    const keys = Object.keys(attrs);
    if (!sameKeys(keys, this.keys)) this.learn(keys);
    out.byte(0x7b);
    for (let i = 0; i < keys.length; i++) {
      const j = this.order[i]!;
      if (i > 0) out.byte(0x2c);
      out.raw(this.escaped[j]!);
      const v = attrs[keys[j]!] as AnyValue;
      out.jsonString(typeof v === 'string' ? v : anyValueToString(v));
    }
    out.byte(0x7d);
  }

  private learn(keys: string[]): void {
    this.keys = keys;
    this.order = keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
    // A lone surrogate (possible from a JSON \ud800 escape) would reach ClickHouse as a bad escape: store U+FFFD.
    this.escaped = keys.map((k) => `${JSON.stringify(k.toWellFormed()).replaceAll('$', '\\u0024')}:`);
  }
}

function writeStringArray(out: ByteWriter, items: string[] | undefined): void {
  out.byte(0x5b);
  if (items) {
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out.byte(0x2c);
      out.jsonString(items[i]!);
    }
  }
  out.byte(0x5d);
}

function sameKeys(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Distinct resources (or scopes), sent once as a JSON array and referenced from the rows by a 1-based index. */
class JsonTable {
  private readonly index = new Map<string, number>();

  /** One tuple: [s1, s2, …, {attrs}]. */
  add(strings: string[], attrs: Attributes): number {
    let entry = '[';
    for (const s of strings) entry += `${jsonText(s)},`;
    entry += `${jsonMap(attrs)}]`;
    let i = this.index.get(entry);
    if (i === undefined) {
      i = this.index.size + 1;
      this.index.set(entry, i);
    }
    return i;
  }

  toString(): string {
    return `[${[...this.index.keys()].join(',')}]`;
  }
}

/** The rows of one part being written: the UTC days [firstDay, lastDay] they fall in, at most MAX_DAYS_PER_PART. */
interface OpenPart {
  out: ByteWriter;
  rows: number;
  firstDay: number;
  lastDay: number;
  /** The nanoseconds those days cover, [from, to): most records fall in them, and need no division. */
  from: bigint;
  to: bigint;
}

/**
 * Builds one logs insert from batches added as they arrive, so that a record is written as a row
 * while it is young: the exporter batches encoded rows, not records, and the records of a request
 * are garbage once it is added instead of surviving in a batch until it is full (D86).
 *
 * ClickHouse spends most of an insert parsing Map columns, and a resource's attributes are the
 * same for all its records: so resource and scope columns are sent once per insert, as tables
 * each row points into, and each row carries only their index. Measured on chDB: half the insert
 * CPU of a plain INSERT … FORMAT JSONCompactEachRow. Timestamps and TemplateId are bare integers
 * so 64-bit values arrive exactly. Map keys are sorted: unsorted keys hurt compression and made
 * equal maps differ upstream.
 */
export class LogsInsertBuilder {
  private readonly resources = new JsonTable();
  private readonly scopes = new JsonTable();
  private readonly logAttributes = new JsonMapEncoder();
  private readonly parts: OpenPart[] = [];
  /** The part the last record went to: consecutive records mostly share a day. */
  private current: OpenPart | undefined;

  /**
   * Writes the batch's records as rows. A batch that throws half-way (a value no encoder takes)
   * leaves no row of its own behind, so the rows of the batches before it stay a valid insert.
   */
  add(batch: LogBatch, nowUnixNano: bigint): void {
    const before = this.parts.map(({ out, rows, firstDay, lastDay, from, to }) => ({
      length: out.length,
      rows,
      firstDay,
      lastDay,
      from,
      to,
    }));
    try {
      this.write(batch, nowUnixNano);
    } catch (err) {
      for (const p of this.parts.splice(before.length)) releaseWriter(p.out);
      this.parts.forEach((p, i) => {
        const was = before[i]!;
        p.out.truncate(was.length);
        Object.assign(p, { rows: was.rows, firstDay: was.firstDay, lastDay: was.lastDay, from: was.from, to: was.to });
      });
      this.current = undefined;
      throw err;
    }
  }

  private write(batch: LogBatch, nowUnixNano: bigint): void {
    for (const rl of batch.resourceLogs) {
      const attrs = rl.resource.attributes;
      const service = attrs['service.name'];
      const r = this.resources.add([service === undefined ? '' : anyValueToString(service), rl.schemaUrl], attrs);
      for (const sl of rl.scopeLogs) {
        const s = this.scopes.add([sl.schemaUrl, sl.scope.name, sl.scope.version], sl.scope.attributes);
        const tail = `,${r},${s}]\n`;
        for (const rec of sl.logRecords) {
          const observed =
            rec.observedTimeUnixNano !== 0n && rec.observedTimeUnixNano <= MAX_UNIX_NANO
              ? rec.observedTimeUnixNano
              : nowUnixNano;
          const time = recordTime(rec.timeUnixNano, rec.observedTimeUnixNano, nowUnixNano);
          const current = this.current;
          const part =
            current !== undefined && time >= current.from && time < current.to ? current : this.partFor(time);
          part.rows++;
          const out = part.out;
          out.raw(`[${time},${observed},"${rec.traceId}","${rec.spanId}",${rec.flags & 0xff},`);
          out.jsonString(rec.severityText);
          out.raw(`,${rec.severityNumber & 0xff},`);
          out.jsonString(typeof rec.body === 'string' ? rec.body : anyValueToString(rec.body));
          out.byte(0x2c);
          this.logAttributes.write(out, rec.attributes);
          out.byte(0x2c);
          out.jsonString(rec.eventName);
          out.raw(`,${rec.templateId ?? 0n},`);
          writeStringArray(out, rec.templateParams);
          out.raw(tail);
        }
      }
    }
  }

  /** The first part whose days, with this record's, stay at most MAX_DAYS_PER_PART; else a new one. */
  private partFor(time: bigint): OpenPart {
    const day = Number(time / NANOS_PER_DAY);
    let part: OpenPart | undefined;
    for (const p of this.parts) {
      if (Math.max(p.lastDay, day) - Math.min(p.firstDay, day) < MAX_DAYS_PER_PART) {
        part = p;
        break;
      }
    }
    if (part === undefined) {
      part = { out: takeWriter(), rows: 0, firstDay: day, lastDay: day, from: 0n, to: 0n };
      this.parts.push(part);
    }
    part.firstDay = Math.min(part.firstDay, day);
    part.lastDay = Math.max(part.lastDay, day);
    part.from = BigInt(part.firstDay) * NANOS_PER_DAY;
    part.to = BigInt(part.lastDay + 1) * NANOS_PER_DAY;
    this.current = part;
    return part;
  }

  /** The insert: each part's rows compressed. The builder is done with; its buffers go back to be reused. */
  finish(): LogsInsert {
    const parts = this.parts.map((p) => rowsPart(p.out.bytes(), p.rows));
    for (const p of this.parts) releaseWriter(p.out);
    this.parts.length = 0;
    this.current = undefined;
    return { resources: this.resources.toString(), scopes: this.scopes.toString(), parts };
  }
}

/** One batch as one logs insert. */
export function encodeLogs(batch: LogBatch, nowUnixNano: bigint): LogsInsert {
  const builder = new LogsInsertBuilder();
  builder.add(batch, nowUnixNano);
  return builder.finish();
}

/** Records whose stored Timestamp will be before `cutoffUnixNano`. */
export function countOlderThan(batch: LogBatch, cutoffUnixNano: bigint, nowUnixNano: bigint): number {
  let n = 0;
  for (const rl of batch.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      for (const rec of sl.logRecords)
        if (recordTime(rec.timeUnixNano, rec.observedTimeUnixNano, nowUnixNano) < cutoffUnixNano) n++;
    }
  }
  return n;
}

function recordTime(time: bigint, observed: bigint, now: bigint): bigint {
  if (time !== 0n && time <= MAX_UNIX_NANO) return time;
  return observed !== 0n && observed <= MAX_UNIX_NANO ? observed : now;
}

/** A ClickHouse SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/[\\']/g, '\\$&')}'`;
}

/**
 * An INSERT of ours with its settings written in, for a statement kept to be run by hand: its
 * deduplication token comes with it, so running it twice stores it once.
 */
export function withInsertSettings(statement: string, settings: Record<string, string | number>): string {
  const at = statement.indexOf(') ') + 1;
  const clause = Object.entries(settings)
    .map(([k, v]) => `${k} = ${typeof v === 'number' ? v : sqlString(v)}`)
    .join(', ');
  return `${statement.slice(0, at)} SETTINGS ${clause}${statement.slice(at)}`;
}

/** The INSERT for some rows of a LogsInsert, the rows in the statement: for a server, and to keep for a user. */
export function logsInsertStatement(table: string, insert: LogsInsert, rows: string): string {
  return logsInsertSelect(table, insert, `format(JSONCompactEachRow, '${ROW_STRUCTURE}', $$${rows}$$)`);
}

/**
 * The INSERT for rows of a LogsInsert written to a file chDB can read: the rows outside the
 * query text, which chDB's parser, lexer and analyzer would otherwise each walk (D84).
 */
export function logsFileInsertStatement(table: string, insert: LogsInsert, file: string): string {
  return logsInsertSelect(table, insert, `file(${sqlString(file)}, JSONCompactEachRow, '${ROW_STRUCTURE}')`);
}

/**
 * The INSERT for rows of a LogsInsert sent to a server in the request's body after it: the body
 * starts with this query and the rows follow, which ClickHouse's HTTP interface reads as
 * input()'s data. So a part's zstd frame is sent as it was queued, after a frame of this text.
 */
export function logsBodyInsertHead(table: string, insert: LogsInsert): string {
  return `${logsInsertSelect(table, insert, `input('${ROW_STRUCTURE}')`)} FORMAT JSONCompactEachRow\n`;
}

/** Compresses text as one zstd frame: with a part's frame after it, one zstd body. */
export function zstdFrame(text: string): Buffer {
  return rowsCompressor.compress(Buffer.from(text));
}

function logsInsertSelect(table: string, insert: LogsInsert, rowsSource: string): string {
  const fromTables: Partial<Record<(typeof LOG_COLUMNS)[number], string>> = {
    ServiceName: 'R[r].1',
    ResourceSchemaUrl: 'R[r].2',
    ResourceAttributes: 'R[r].3',
    ScopeSchemaUrl: 'S[s].1',
    ScopeName: 'S[s].2',
    ScopeVersion: 'S[s].3',
    ScopeAttributes: 'S[s].4',
  };
  const select = LOG_COLUMNS.map((c) => fromTables[c] ?? c);
  return (
    `INSERT INTO ${table} (${LOG_COLUMNS.join(', ')}) ` +
    `WITH JSONExtract($$${insert.resources}$$, '${RESOURCE_TABLE_TYPE}') AS R, ` +
    `JSONExtract($$${insert.scopes}$$, '${SCOPE_TABLE_TYPE}') AS S ` +
    `SELECT ${select.join(', ')} FROM ${rowsSource}`
  );
}

interface TemplateAggregate {
  id: bigint;
  text: string;
  replaced: bigint[];
  source: string;
  first: bigint;
  last: bigint;
  count: number;
  services: Set<string>;
  severityNumber: number;
  severityText: string;
  sample: string;
}

const TEMPLATE_COLUMNS =
  'TemplateId, Text, FirstSeen, LastSeen, Count, Services, MaxSeverityNumber, MaxSeverityText, Sample, ' +
  'ReplacedIds, Source';
const TEMPLATE_STRUCTURE =
  'TemplateId UInt64, Text String, FirstSeen DateTime64(9), LastSeen DateTime64(9), Count UInt64, ' +
  'Services Array(String), MaxSeverityNumber UInt8, MaxSeverityText Tuple(UInt8, String), Sample String, ' +
  'ReplacedIds Array(UInt64), Source String';

/**
 * One row per template seen in the batches added, for the log_templates table: its first and
 * last timestamps, count, services, highest severity and a sample message. The table's aggregate
 * columns merge these rows into the template's totals.
 */
export class TemplatesInsertBuilder {
  private readonly templates = new Map<bigint, TemplateAggregate>();

  add(batch: LogBatch, nowUnixNano: bigint): void {
    const templates = this.templates;
    for (const rl of batch.resourceLogs) {
      const serviceValue = rl.resource.attributes['service.name'];
      const service = serviceValue === undefined ? '' : anyValueToString(serviceValue);
      for (const sl of rl.scopeLogs) {
        for (const rec of sl.logRecords) {
          const ref = rec.template;
          if (!ref) continue;
          const time = rec.timeUnixNano || rec.observedTimeUnixNano || nowUnixNano;
          const agg = templates.get(ref.id) ?? aggregateOf(templates, ref, time, rec);
          agg.count++;
          if (time < agg.first) agg.first = time;
          if (time > agg.last) agg.last = time;
          agg.services.add(service);
          if (rec.severityNumber > agg.severityNumber) {
            agg.severityNumber = rec.severityNumber;
            agg.severityText = rec.severityText;
          }
          // A spacing variant belongs to its template: the template's row lists it as replaced.
          if (ref.variantOf) {
            const owner = templates.get(ref.variantOf.id) ?? aggregateOf(templates, ref.variantOf, time, rec);
            if (!owner.replaced.includes(ref.id)) owner.replaced.push(ref.id);
            owner.services.add(service);
          }
        }
      }
    }
  }

  /** The insert into `table`; undefined when no record had a template. */
  finish(table: string): string | undefined {
    return this.templates.size === 0 ? undefined : encodeTemplateRows(this.templates.values(), table);
  }
}

function aggregateOf(
  templates: Map<bigint, TemplateAggregate>,
  ref: TemplateRef,
  time: bigint,
  rec: LogRecord,
): TemplateAggregate {
  const agg: TemplateAggregate = {
    id: ref.id,
    text: ref.text,
    replaced: ref.replaced.slice(),
    source: ref.source,
    first: time,
    last: time,
    count: 0,
    services: new Set(),
    severityNumber: rec.severityNumber,
    severityText: rec.severityText,
    sample: typeof rec.body === 'string' ? rec.body : anyValueToString(rec.body),
  };
  templates.set(ref.id, agg);
  return agg;
}

/**
 * Rows for templates no record carried yet (an LLM's, when accepted): seen now, counted 0, so
 * the template and the ids it replaced are stored before a record uses it.
 */
export function encodeNewTemplatesInsert(
  templates: readonly NewTemplate[],
  table: string,
  nowUnixNano: bigint,
): string {
  return encodeTemplateRows(
    templates.map(({ template, sample, services }) => ({
      id: template.id,
      text: template.text,
      replaced: template.replaced.slice(),
      source: template.source,
      first: nowUnixNano,
      last: nowUnixNano,
      count: 0,
      services: new Set(services),
      severityNumber: 0,
      severityText: '',
      sample,
    })),
    table,
  );
}

function encodeTemplateRows(templates: Iterable<TemplateAggregate>, table: string): string {
  const out = new ByteWriter();
  for (const t of templates) {
    out.raw(`[${t.id},`);
    out.jsonString(t.text);
    out.raw(`,${t.first},${t.last},${t.count},`);
    writeStringArray(out, [...t.services]);
    out.raw(`,${t.severityNumber & 0xff},[${t.severityNumber & 0xff},`);
    out.jsonString(t.severityText);
    out.raw('],');
    out.jsonString(t.sample.length > 1024 ? t.sample.slice(0, 1024) : t.sample);
    out.raw(`,[${t.replaced.join(',')}],`);
    out.jsonString(t.source);
    out.raw(']\n');
  }
  return (
    `INSERT INTO ${table} (${TEMPLATE_COLUMNS}) SELECT ${TEMPLATE_COLUMNS} FROM ` +
    `format(JSONCompactEachRow, '${TEMPLATE_STRUCTURE}', $$${out.toString()}$$)`
  );
}
