import { Compressor, Decompressor } from 'zstd-napi';
import { ByteWriter } from './byte-writer.js';
import { MAX_UNIX_NANO } from '../../pipeline/limits.js';
import type { NewTemplate } from '../../pipeline/component.js';
import {
  anyValueToString,
  type AnyValue,
  type Attributes,
  type LogBatch,
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
 * Writers kept from one batch to the next, so a batch's rows are written into a buffer already
 * grown to their size: no doubling copies, no new 32 MiB buffer a batch. Most batches have one part.
 */
const KEPT_WRITERS: ByteWriter[] = [new ByteWriter(), new ByteWriter()];

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

/**
 * Encodes a batch for the logs insert. ClickHouse spends most of an insert parsing Map columns,
 * and a resource's attributes are the same for all its records: so resource and scope columns
 * are sent once per insert, as tables each row points into, and each row carries only their
 * index. Measured on chDB: half the insert CPU of a plain INSERT … FORMAT JSONCompactEachRow.
 * Timestamps and TemplateId are bare integers so 64-bit values arrive exactly. Map keys are
 * sorted: unsorted keys hurt compression and made equal maps differ upstream.
 */
export function encodeLogs(batch: LogBatch, nowUnixNano: bigint): LogsInsert {
  const resources = new JsonTable();
  const scopes = new JsonTable();
  let minTime = MAX_UNIX_NANO;
  let maxTime = 0n;
  for (const rl of batch.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      for (const rec of sl.logRecords) {
        const time = recordTime(rec.timeUnixNano, rec.observedTimeUnixNano, nowUnixNano);
        if (time < minTime) minTime = time;
        if (time > maxTime) maxTime = time;
      }
    }
  }
  // Most batches span a day or two: one part, and no day is looked up per record.
  const partOfDay =
    maxTime / NANOS_PER_DAY - minTime / NANOS_PER_DAY < BigInt(MAX_DAYS_PER_PART)
      ? undefined
      : daysToParts(batch, nowUnixNano);
  // Reset here, not only after use: an encode that threw left its rows in them.
  for (const writer of KEPT_WRITERS) writer.reset();
  const writers: ByteWriter[] = [];
  const rows: number[] = [];
  const logAttributes = new JsonMapEncoder();
  for (const rl of batch.resourceLogs) {
    const attrs = rl.resource.attributes;
    const service = attrs['service.name'];
    const r = resources.add([service === undefined ? '' : anyValueToString(service), rl.schemaUrl], attrs);
    for (const sl of rl.scopeLogs) {
      const s = scopes.add([sl.schemaUrl, sl.scope.name, sl.scope.version], sl.scope.attributes);
      const tail = `,${r},${s}]\n`;
      for (const rec of sl.logRecords) {
        const observed =
          rec.observedTimeUnixNano !== 0n && rec.observedTimeUnixNano <= MAX_UNIX_NANO
            ? rec.observedTimeUnixNano
            : nowUnixNano;
        const time = recordTime(rec.timeUnixNano, rec.observedTimeUnixNano, nowUnixNano);
        const part = partOfDay === undefined ? 0 : partOfDay.get(Number(time / NANOS_PER_DAY))!;
        const out = (writers[part] ??= KEPT_WRITERS[part] ?? new ByteWriter());
        rows[part] = (rows[part] ?? 0) + 1;
        out.raw(`[${time},${observed},"${rec.traceId}","${rec.spanId}",${rec.flags & 0xff},`);
        out.jsonString(rec.severityText);
        out.raw(`,${rec.severityNumber & 0xff},`);
        out.jsonString(typeof rec.body === 'string' ? rec.body : anyValueToString(rec.body));
        out.byte(0x2c);
        logAttributes.write(out, rec.attributes);
        out.byte(0x2c);
        out.jsonString(rec.eventName);
        out.raw(`,${rec.templateId ?? 0n},`);
        writeStringArray(out, rec.templateParams);
        out.raw(tail);
      }
    }
  }
  const parts: RowsPart[] = [];
  writers.forEach((writer, i) => parts.push(rowsPart(writer.bytes(), rows[i]!)));
  return { resources: resources.toString(), scopes: scopes.toString(), parts };
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

/** The part each day goes to: consecutive days in groups of MAX_DAYS_PER_PART. */
function daysToParts(batch: LogBatch, nowUnixNano: bigint): Map<number, number> {
  const days = new Set<number>();
  for (const rl of batch.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      for (const rec of sl.logRecords)
        days.add(Number(recordTime(rec.timeUnixNano, rec.observedTimeUnixNano, nowUnixNano) / NANOS_PER_DAY));
    }
  }
  const parts = new Map<number, number>();
  [...days].sort((a, b) => a - b).forEach((day, i) => parts.set(day, Math.floor(i / MAX_DAYS_PER_PART)));
  return parts;
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
 * One row per template seen in the batch, for the log_templates table: its first and last
 * timestamps, count, services, highest severity and a sample message in this batch. The table's
 * aggregate columns merge these rows into the template's totals. Undefined when no record has a
 * template.
 */
export function encodeTemplatesInsert(batch: LogBatch, table: string, nowUnixNano: bigint): string | undefined {
  const templates = new Map<bigint, TemplateAggregate>();
  for (const rl of batch.resourceLogs) {
    const serviceValue = rl.resource.attributes['service.name'];
    const service = serviceValue === undefined ? '' : anyValueToString(serviceValue);
    for (const sl of rl.scopeLogs) {
      for (const rec of sl.logRecords) {
        const ref = rec.template;
        if (!ref) continue;
        const time = rec.timeUnixNano || rec.observedTimeUnixNano || nowUnixNano;
        const sample = typeof rec.body === 'string' ? rec.body : anyValueToString(rec.body);
        const agg = aggregateOf(templates, ref, time, rec.severityNumber, rec.severityText, sample);
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
          const owner = aggregateOf(templates, ref.variantOf, time, rec.severityNumber, rec.severityText, sample);
          if (!owner.replaced.includes(ref.id)) owner.replaced.push(ref.id);
          owner.services.add(service);
        }
      }
    }
  }
  if (templates.size === 0) return undefined;
  return encodeTemplateRows(templates.values(), table);
}

function aggregateOf(
  templates: Map<bigint, TemplateAggregate>,
  ref: TemplateRef,
  time: bigint,
  severityNumber: number,
  severityText: string,
  sample: string,
): TemplateAggregate {
  let agg = templates.get(ref.id);
  if (!agg) {
    agg = {
      id: ref.id,
      text: ref.text,
      replaced: ref.replaced.slice(),
      source: ref.source,
      first: time,
      last: time,
      count: 0,
      services: new Set(),
      severityNumber,
      severityText,
      sample,
    };
    templates.set(ref.id, agg);
  }
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
