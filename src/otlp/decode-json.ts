import {
  newAttributes,
  type AnyValue,
  type Attributes,
  type LogRecord,
  type ResourceLogs,
  type ScopeLogs,
} from '../pipeline/model.js';
import { MAX_UNIX_NANO, MAX_VALUE_DEPTH } from '../pipeline/limits.js';
import type { DecodeResult } from './decode-proto.js';
import { OtlpDecodeError } from './errors.js';
import { SeverityNumberEnum } from './proto-types.js';

type Json = Record<string, unknown>;

/*
 * JSON.parse turns integer literals above 2^53 into the nearest double, and OTLP/JSON lets clients
 * send the int64 fields (timestamps, intValue) as bare numbers, so nanosecond timestamps would
 * lose their last digits. Node 20's JSON.parse gives revivers no access to the source text, so
 * before parsing, literals of 16 or more digits that are the value of an int64 field are wrapped in
 * quotes (the decoder takes int64 fields as strings anyway).
 *
 * The pattern cannot match inside a string literal: there every `"` is escaped, while the pattern
 * needs a key's last letter followed by a bare `"` and a colon, which only the end of an object key
 * gives. (A key merely ending in, say, `\"intValue` is an unknown field, ignored either way.) One
 * native regex scan costs about a tenth of JSON.parse on the bench workload, far less than a
 * tokenizer written in JS, and it leaves shorter numbers, fractions and exponents alone.
 */
const LONG_INT64_LITERAL = new RegExp(
  '"(timeUnixNano|time_unix_nano|observedTimeUnixNano|observed_time_unix_nano|intValue|int_value)"' +
    '(\\s*:\\s*)(-?[1-9]\\d{15,})(?=\\s*[,}])',
  'g',
);

function parseJsonExact(text: string): unknown {
  try {
    return JSON.parse(text.replace(LONG_INT64_LITERAL, '"$1"$2"$3"'));
  } catch (err) {
    throw new OtlpDecodeError(`invalid JSON: ${jsonErrorOf(text, err)}`);
  }
}

/**
 * The message for the text as the client sent it: quoting keeps valid JSON valid and invalid JSON
 * invalid, but V8's message quotes the text around the error, which quoting may have changed.
 */
function jsonErrorOf(text: string, quotedError: unknown): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  return (quotedError as Error).message;
}

/** A record-level problem: the record is rejected, its neighbours are kept. */
class RecordError extends Error {}

/** proto3 JSON accepts the lowerCamelCase name and the original snake_case name. */
function field(o: Json, camel: string, snake: string): unknown {
  const v = o[camel];
  return v !== undefined ? v : o[snake];
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A repeated field outside a record: anything but an array makes the request invalid. */
function requestList(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpDecodeError(`${path}: expected an array`);
  return v;
}

function requestObject(v: unknown, path: string): Json {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new OtlpDecodeError(`${path}: expected an object`);
  return v;
}

function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new RecordError(`${path}: expected an array`);
  return v;
}

function str(v: unknown, path: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new RecordError(`${path}: expected a string`);
  return v;
}

const INTEGER = /^-?\d+$/;
const UINT64_END = 1n << 64n;
const INT64_MIN = -(1n << 63n);
const INT64_END = 1n << 63n;

/** Decimal strings are exact; numbers are exact up to 2^53, and longer literals arrive quoted. */
function int64(v: unknown, path: string, unsigned: boolean): bigint {
  if (v === undefined || v === null) return 0n;
  let n: bigint;
  if (typeof v === 'string' && INTEGER.test(v)) n = BigInt(v);
  else if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else throw new RecordError(`${path}: expected an integer, got ${JSON.stringify(v)}`);
  if (unsigned ? n < 0n || n >= UINT64_END : n < INT64_MIN || n >= INT64_END)
    throw new RecordError(`${path}: ${n} is out of range`);
  return n;
}

function uint32(v: unknown, path: string): number {
  if (typeof v === 'number' && v >= 0 && v <= 0xffffffff && Number.isInteger(v)) return v;
  const n = int64(v, path, true);
  if (n > 0xffffffffn) throw new RecordError(`${path}: ${n} is out of range`);
  return Number(n);
}

function double(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  throw new RecordError(`${path}: expected a number, got ${JSON.stringify(v)}`);
}

function severity(v: unknown, path: string): number {
  if (typeof v === 'string' && !INTEGER.test(v)) {
    if (!Object.hasOwn(SeverityNumberEnum.values, v))
      throw new RecordError(`${path}: unknown severity ${JSON.stringify(v)}`);
    return SeverityNumberEnum.values[v]!;
  }
  return uint32(v, path);
}

const HEX = /^[0-9a-fA-F]*$/;
const ZEROS = /^0*$/;

/** Hex of any case; "" and an all-zero id both mean "no id". */
function hexId(v: unknown, path: string, length: number): string {
  const s = str(v, path);
  if (s === '') return '';
  if (s.length !== length || !HEX.test(s))
    throw new RecordError(`${path}: expected ${length} hex characters, got ${JSON.stringify(s)}`);
  return ZEROS.test(s) ? '' : s.toLowerCase();
}

function anyValue(v: unknown, path: string, depth: number): AnyValue {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new RecordError(`${path}: expected an AnyValue object`);
  if (depth > MAX_VALUE_DEPTH) throw new RecordError(`${path}: values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  let x: unknown;
  if ((x = field(v, 'stringValue', 'string_value')) !== undefined) return str(x, `${path}.stringValue`);
  if ((x = field(v, 'boolValue', 'bool_value')) !== undefined) {
    if (typeof x !== 'boolean') throw new RecordError(`${path}.boolValue: expected true or false`);
    return x;
  }
  if ((x = field(v, 'intValue', 'int_value')) !== undefined) return int64(x, `${path}.intValue`, false);
  if ((x = field(v, 'doubleValue', 'double_value')) !== undefined) return double(x, `${path}.doubleValue`);
  if ((x = field(v, 'bytesValue', 'bytes_value')) !== undefined)
    return new Uint8Array(Buffer.from(str(x, `${path}.bytesValue`), 'base64'));
  if ((x = field(v, 'arrayValue', 'array_value')) !== undefined) {
    const items = list(isObject(x) ? x.values : undefined, `${path}.arrayValue.values`);
    const out: AnyValue[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) out[i] = anyValue(items[i], `${path}.arrayValue.values[${i}]`, depth + 1);
    return out;
  }
  if ((x = field(v, 'kvlistValue', 'kvlist_value')) !== undefined)
    return attributes(isObject(x) ? x.values : undefined, `${path}.kvlistValue.values`, depth + 1);
  return null;
}

function attributes(v: unknown, path: string, depth: number): Attributes {
  const out = newAttributes();
  const items = list(v, path);
  for (let i = 0; i < items.length; i++) {
    const kv = items[i];
    if (!isObject(kv)) throw new RecordError(`${path}[${i}]: expected a KeyValue object`);
    out[str(kv.key, `${path}[${i}].key`)] = anyValue(kv.value, `${path}[${i}].value`, depth);
  }
  return out;
}

type Counts = { records: number; rejected: number; rejectReason: string; unrepresentableTimes: number };

/** A uint64 timestamp, or 0 (unknown, counted) when it is later than MAX_UNIX_NANO. */
function timestamp(v: unknown, path: string, counts: Counts): bigint {
  const t = int64(v, path, true);
  if (t <= MAX_UNIX_NANO) return t;
  counts.unrepresentableTimes++;
  return 0n;
}

function logRecord(r: unknown, path: string, counts: Counts): LogRecord {
  if (!isObject(r)) throw new RecordError(`${path}: expected an object`);
  return {
    timeUnixNano: timestamp(field(r, 'timeUnixNano', 'time_unix_nano'), `${path}.timeUnixNano`, counts),
    observedTimeUnixNano: timestamp(
      field(r, 'observedTimeUnixNano', 'observed_time_unix_nano'),
      `${path}.observedTimeUnixNano`,
      counts,
    ),
    severityNumber: severity(field(r, 'severityNumber', 'severity_number'), `${path}.severityNumber`),
    severityText: str(field(r, 'severityText', 'severity_text'), `${path}.severityText`),
    body: anyValue(r.body, `${path}.body`, 0),
    attributes: attributes(r.attributes, `${path}.attributes`, 0),
    droppedAttributesCount: uint32(
      field(r, 'droppedAttributesCount', 'dropped_attributes_count'),
      `${path}.droppedAttributesCount`,
    ),
    flags: uint32(r.flags, `${path}.flags`),
    traceId: hexId(field(r, 'traceId', 'trace_id'), `${path}.traceId`, 32),
    spanId: hexId(field(r, 'spanId', 'span_id'), `${path}.spanId`, 16),
    eventName: str(field(r, 'eventName', 'event_name'), `${path}.eventName`),
  };
}

/** Outside a log record, a malformed value makes the whole request undecodable. */
function requestLevel<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof RecordError) throw new OtlpDecodeError(err.message);
    throw err;
  }
}

function scopeLogs(raw: unknown, path: string, counts: Counts): ScopeLogs {
  const sl = requestObject(raw, path);
  const logRecords: LogRecord[] = [];
  const rawRecords = requestList(field(sl, 'logRecords', 'log_records'), `${path}.logRecords`);
  for (let i = 0; i < rawRecords.length; i++) {
    try {
      logRecords.push(logRecord(rawRecords[i], `${path}.logRecords[${i}]`, counts));
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      counts.rejected++;
      counts.rejectReason ||= err.message;
    }
  }
  counts.records += logRecords.length;
  const scope = requestObject(sl.scope, `${path}.scope`);
  return requestLevel(() => ({
    scope: {
      name: str(scope.name, `${path}.scope.name`),
      version: str(scope.version, `${path}.scope.version`),
      attributes: attributes(scope.attributes, `${path}.scope.attributes`, 0),
      droppedAttributesCount: uint32(
        field(scope, 'droppedAttributesCount', 'dropped_attributes_count'),
        `${path}.scope.droppedAttributesCount`,
      ),
    },
    schemaUrl: str(field(sl, 'schemaUrl', 'schema_url'), `${path}.schemaUrl`),
    logRecords,
  }));
}

/**
 * Decodes an OTLP/JSON ExportLogsServiceRequest. A record with a malformed field is rejected
 * alone; text that is not JSON, or a request whose structure around the records is wrong, throws
 * OtlpDecodeError. A time after MAX_UNIX_NANO reads as 0.
 */
export function decodeLogsRequestJson(body: string | Uint8Array): DecodeResult {
  const text =
    typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const root = parseJsonExact(text);
  if (!isObject(root)) throw new OtlpDecodeError('expected an ExportLogsServiceRequest object');
  const counts: Counts = { records: 0, rejected: 0, rejectReason: '', unrepresentableTimes: 0 };
  const resourceLogs: ResourceLogs[] = [];
  const rawResourceLogs = requestList(field(root, 'resourceLogs', 'resource_logs'), 'resourceLogs');
  for (let ri = 0; ri < rawResourceLogs.length; ri++) {
    const path = `resourceLogs[${ri}]`;
    const rl = requestObject(rawResourceLogs[ri], path);
    const rawScopeLogs = requestList(field(rl, 'scopeLogs', 'scope_logs'), `${path}.scopeLogs`);
    const scopes: ScopeLogs[] = [];
    for (let si = 0; si < rawScopeLogs.length; si++)
      scopes.push(scopeLogs(rawScopeLogs[si], `${path}.scopeLogs[${si}]`, counts));
    const resource = requestObject(rl.resource, `${path}.resource`);
    resourceLogs.push(
      requestLevel(() => ({
        resource: {
          attributes: attributes(resource.attributes, `${path}.resource.attributes`, 0),
          droppedAttributesCount: uint32(
            field(resource, 'droppedAttributesCount', 'dropped_attributes_count'),
            `${path}.resource.droppedAttributesCount`,
          ),
        },
        schemaUrl: str(field(rl, 'schemaUrl', 'schema_url'), `${path}.schemaUrl`),
        scopeLogs: scopes,
      })),
    );
  }
  return {
    batch: { resourceLogs },
    records: counts.records,
    rejected: counts.rejected,
    rejectReason: counts.rejectReason,
    unrepresentableTimes: counts.unrepresentableTimes,
  };
}
