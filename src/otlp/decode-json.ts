import { newAttributes, type AnyValue, type Attributes, type LogRecord, type ResourceLogs, type ScopeLogs } from '../pipeline/model.js';
import type { DecodeResult } from './decode-proto.js';
import { OtlpDecodeError } from './errors.js';
import { SeverityNumberEnum } from './proto-types.js';

type Json = Record<string, unknown>;

/**
 * JSON.parse turns integers above 2^53 into inexact doubles, and OTLP/JSON allows nanosecond
 * timestamps and int64 values as bare numbers. Node 20 has no JSON.parse source access, so before
 * parsing, integer literals of 16+ digits outside strings are quoted (the regex skips over string
 * literals as whole tokens); every int64 field accepts a string anyway.
 */
const STRING_OR_LONG_INTEGER = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])(-?\d{16,})(?![\d.eE])/g;
const LONG_INTEGER = /\d{16}/;

function parseJsonExact(text: string): unknown {
  const safe = LONG_INTEGER.test(text) ? text.replace(STRING_OR_LONG_INTEGER, (m: string, num: string | undefined) => (num ? `"${num}"` : m)) : text;
  try {
    return JSON.parse(safe);
  } catch (err) {
    throw new OtlpDecodeError(`invalid JSON: ${(err as Error).message}`);
  }
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

function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpDecodeError(`${path}: expected an array`);
  return v;
}

function object(v: unknown, path: string): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new OtlpDecodeError(`${path}: expected an object`);
  return v;
}

function str(v: unknown, path: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new RecordError(`${path}: expected a string`);
  return v;
}

const INTEGER = /^-?\d+$/;

function int64(v: unknown, path: string, unsigned: boolean): bigint {
  if (v === undefined || v === null) return 0n;
  let n: bigint;
  if (typeof v === 'string' && INTEGER.test(v)) n = BigInt(v);
  else if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else throw new RecordError(`${path}: expected an integer, got ${JSON.stringify(v)}`);
  if (unsigned ? n < 0n || n >= 1n << 64n : n < -(1n << 63n) || n >= 1n << 63n) throw new RecordError(`${path}: ${n} is out of range`);
  return n;
}

function uint32(v: unknown, path: string): number {
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
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string' && !INTEGER.test(v)) {
    const n = SeverityNumberEnum.values[v];
    if (n === undefined) throw new RecordError(`${path}: unknown severity ${JSON.stringify(v)}`);
    return n;
  }
  return uint32(v, path);
}

const HEX = /^[0-9a-fA-F]*$/;

function hexId(v: unknown, path: string, length: number): string {
  const s = str(v, path);
  if (s === '') return '';
  if (s.length !== length || !HEX.test(s)) throw new RecordError(`${path}: expected ${length} hex characters, got ${JSON.stringify(s)}`);
  const lower = s.toLowerCase();
  return /^0+$/.test(lower) ? '' : lower;
}

function anyValue(v: unknown, path: string): AnyValue {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new RecordError(`${path}: expected an AnyValue object`);
  let x: unknown;
  if ((x = field(v, 'stringValue', 'string_value')) !== undefined) return str(x, `${path}.stringValue`);
  if ((x = field(v, 'boolValue', 'bool_value')) !== undefined) {
    if (typeof x !== 'boolean') throw new RecordError(`${path}.boolValue: expected true or false`);
    return x;
  }
  if ((x = field(v, 'intValue', 'int_value')) !== undefined) return int64(x, `${path}.intValue`, false);
  if ((x = field(v, 'doubleValue', 'double_value')) !== undefined) return double(x, `${path}.doubleValue`);
  if ((x = field(v, 'bytesValue', 'bytes_value')) !== undefined) return new Uint8Array(Buffer.from(str(x, `${path}.bytesValue`), 'base64'));
  if ((x = field(v, 'arrayValue', 'array_value')) !== undefined) {
    const values = isObject(x) ? x.values : undefined;
    return listRecord(values, `${path}.arrayValue.values`).map((item, i) => anyValue(item, `${path}.arrayValue.values[${i}]`));
  }
  if ((x = field(v, 'kvlistValue', 'kvlist_value')) !== undefined) return attributes(isObject(x) ? x.values : undefined, `${path}.kvlistValue.values`);
  return null;
}

function listRecord(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new RecordError(`${path}: expected an array`);
  return v;
}

function attributes(v: unknown, path: string): Attributes {
  const out = newAttributes();
  const items = listRecord(v, path);
  for (let i = 0; i < items.length; i++) {
    const kv = items[i];
    if (!isObject(kv)) throw new RecordError(`${path}[${i}]: expected a KeyValue object`);
    out[str(kv.key, `${path}[${i}].key`)] = anyValue(kv.value, `${path}[${i}].value`);
  }
  return out;
}

function logRecord(r: unknown, path: string): LogRecord {
  if (!isObject(r)) throw new RecordError(`${path}: expected an object`);
  return {
    timeUnixNano: int64(field(r, 'timeUnixNano', 'time_unix_nano'), `${path}.timeUnixNano`, true),
    observedTimeUnixNano: int64(field(r, 'observedTimeUnixNano', 'observed_time_unix_nano'), `${path}.observedTimeUnixNano`, true),
    severityNumber: severity(field(r, 'severityNumber', 'severity_number'), `${path}.severityNumber`),
    severityText: str(field(r, 'severityText', 'severity_text'), `${path}.severityText`),
    body: anyValue(r.body, `${path}.body`),
    attributes: attributes(r.attributes, `${path}.attributes`),
    droppedAttributesCount: uint32(field(r, 'droppedAttributesCount', 'dropped_attributes_count'), `${path}.droppedAttributesCount`),
    flags: uint32(r.flags, `${path}.flags`),
    traceId: hexId(field(r, 'traceId', 'trace_id'), `${path}.traceId`, 32),
    spanId: hexId(field(r, 'spanId', 'span_id'), `${path}.spanId`, 16),
    eventName: str(field(r, 'eventName', 'event_name'), `${path}.eventName`),
  };
}

/** Outside a log record, a malformed value makes the whole request undecodable. */
function structural<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof RecordError) throw new OtlpDecodeError(err.message);
    throw err;
  }
}

/** Decodes an OTLP/JSON ExportLogsServiceRequest; see the comment on parseJsonExact for 64-bit values. */
export function decodeLogsRequestJson(body: string | Uint8Array): DecodeResult {
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const root = object(parseJsonExact(text), '(root)');
  if (!root) throw new OtlpDecodeError('expected an ExportLogsServiceRequest object');
  let records = 0;
  let rejected = 0;
  let rejectReason = '';
  const resourceLogs: ResourceLogs[] = [];
  list(field(root, 'resourceLogs', 'resource_logs'), 'resourceLogs').forEach((rawRl, ri) => {
    const rlPath = `resourceLogs[${ri}]`;
    const rl = object(rawRl, rlPath) ?? {};
    const resource = object(rl.resource, `${rlPath}.resource`) ?? {};
    const scopeLogs: ScopeLogs[] = [];
    list(field(rl, 'scopeLogs', 'scope_logs'), `${rlPath}.scopeLogs`).forEach((rawSl, si) => {
      const slPath = `${rlPath}.scopeLogs[${si}]`;
      const sl = object(rawSl, slPath) ?? {};
      const scope = object(sl.scope, `${slPath}.scope`) ?? {};
      const logRecords: LogRecord[] = [];
      list(field(sl, 'logRecords', 'log_records'), `${slPath}.logRecords`).forEach((raw, li) => {
        try {
          logRecords.push(logRecord(raw, `${slPath}.logRecords[${li}]`));
        } catch (err) {
          if (!(err instanceof RecordError)) throw err;
          rejected++;
          rejectReason ||= err.message;
        }
      });
      records += logRecords.length;
      scopeLogs.push(
        structural(() => ({
          scope: {
            name: str(scope.name, `${slPath}.scope.name`),
            version: str(scope.version, `${slPath}.scope.version`),
            attributes: attributes(scope.attributes, `${slPath}.scope.attributes`),
            droppedAttributesCount: uint32(field(scope, 'droppedAttributesCount', 'dropped_attributes_count'), `${slPath}.scope.droppedAttributesCount`),
          },
          schemaUrl: str(field(sl, 'schemaUrl', 'schema_url'), `${slPath}.schemaUrl`),
          logRecords,
        })),
      );
    });
    resourceLogs.push(
      structural(() => ({
        resource: {
          attributes: attributes(resource.attributes, `${rlPath}.resource.attributes`),
          droppedAttributesCount: uint32(field(resource, 'droppedAttributesCount', 'dropped_attributes_count'), `${rlPath}.resource.droppedAttributesCount`),
        },
        schemaUrl: str(field(rl, 'schemaUrl', 'schema_url'), `${rlPath}.schemaUrl`),
        scopeLogs,
      })),
    );
  });
  return { batch: { resourceLogs }, records, rejected, rejectReason };
}
