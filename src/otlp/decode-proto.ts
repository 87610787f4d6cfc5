import protobuf from 'protobufjs';
import {
  newAttributes,
  newLogRecord,
  type AnyValue,
  type Attributes,
  type LogBatch,
  type LogRecord,
  type ResourceLogs,
  type ScopeLogs,
} from '../pipeline/model.js';
import { MAX_UNIX_NANO, MAX_VALUE_DEPTH } from '../pipeline/limits.js';
import { OtlpDecodeError } from './errors.js';

/** What decoding a request produced: the batch of valid records and the count of rejected ones. */
export interface DecodeResult {
  batch: LogBatch;
  /** Records accepted into the batch. */
  records: number;
  rejected: number;
  /** Why the first rejected record was rejected; "" when none was. */
  rejectReason: string;
  /** Timestamps after MAX_UNIX_NANO in the request's records, read as unknown (0). */
  unrepresentableTimes: number;
}

/*
 * Decoding is the hottest path of the collector, so the request is decoded in one pass with
 * protobufjs's Reader straight into the log model, following the field numbers of the messages in
 * proto/ (test/otlp/codec.test.ts checks the result against the reflection decoder of those files).
 * The reflection decoder builds an intermediate message tree with a Long object per 64-bit field;
 * decoding with it and converting the tree ran at about half this speed (npm run bench:decode
 * workload: ~110k against ~210k records/s).
 *
 * 64-bit fields are read here rather than with Reader.int64/fixed64: those return a Long only
 * when protobufjs finds the `long` package and otherwise a lossy number, and they allocate.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const TAG_1_LEN = (1 << 3) | WIRE_LEN;
const TAG_2_LEN = (2 << 3) | WIRE_LEN;
const TAG_3_LEN = (3 << 3) | WIRE_LEN;
const TAG_2_VARINT = (2 << 3) | WIRE_VARINT;
const TAG_4_VARINT = (4 << 3) | WIRE_VARINT;

type Reader = protobuf.Reader;

/** Where the current length-delimited field ends; throws if it runs past the buffer. */
function fieldEnd(r: Reader): number {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw new RangeError(`index out of range: ${r.pos} + ${len} > ${r.len}`);
  return end;
}

/** A nested message whose last field ran past the message's own length is malformed. */
function checkEnd(r: Reader, end: number): void {
  if (r.pos !== end) throw new RangeError(`a field overruns its message at offset ${end}`);
}

function fixed64(r: Reader): bigint {
  const low = r.fixed32();
  const high = r.fixed32();
  return high === 0 ? BigInt(low) : (BigInt(high) << 32n) | BigInt(low);
}

function truncated(r: Reader): RangeError {
  return new RangeError(`index out of range: varint at ${r.pos} runs past ${r.len}`);
}

/** A two's-complement int64 varint. Values below 2^28 (four bytes) take the short path. */
function int64(r: Reader): bigint {
  const buf = r.buf;
  const len = r.len;
  let pos = r.pos;
  let low = 0;
  let byte: number;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= len) throw truncated(r);
    byte = buf[pos++]!;
    low |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      r.pos = pos;
      return BigInt(low);
    }
  }
  if (pos >= len) throw truncated(r);
  byte = buf[pos++]!;
  low = (low | ((byte & 0x0f) << 28)) >>> 0;
  let high = (byte & 0x7f) >> 4;
  for (let shift = 3; byte >= 0x80; shift += 7) {
    if (shift > 31) throw new RangeError(`invalid varint at ${r.pos}: longer than 10 bytes`);
    if (pos >= len) throw truncated(r);
    byte = buf[pos++]!;
    high |= (byte & 0x7f) << shift;
  }
  r.pos = pos;
  return BigInt.asIntN(64, (BigInt(high >>> 0) << 32n) | BigInt(low));
}

/** Ids are hex strings in the model; an all-zero id means "no id", as the spec says. */
function idToHex(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return buf.toString('hex', start, end);
  return '';
}

/*
 * Attribute keys, and many short values (methods, regions, service names), repeat from record to
 * record. A short ASCII string is looked up by its bytes in a small direct-mapped table and the
 * string already made is shared: a hash and a compare of a few bytes instead of a native call and
 * a new string per field, and one copy of "http.request.method" in memory instead of one per record.
 */
const INTERNED_MAX_BYTES = 32;
const INTERN_SLOTS = 4096;
const internedText: string[] = new Array<string>(INTERN_SLOTS).fill('');

/** A string field (length-prefixed UTF-8). */
function stringField(r: Reader): string {
  const end = fieldEnd(r);
  const start = r.pos;
  const len = end - start;
  r.pos = end;
  const buf = r.buf;
  if (len === 0) return '';
  if (len > INTERNED_MAX_BYTES) return Buffer.prototype.utf8Slice.call(buf, start, end) as string;
  let hash = 0x811c9dc5 ^ len;
  let ascii = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    ascii |= c;
    hash = Math.imul(hash ^ c, 0x01000193);
  }
  if (ascii >= 0x80) return Buffer.prototype.utf8Slice.call(buf, start, end) as string;
  const slot = (hash ^ (hash >>> 16)) & (INTERN_SLOTS - 1);
  const known = internedText[slot]!;
  if (known.length === len) {
    let same = true;
    for (let i = 0; i < len; i++)
      if (known.charCodeAt(i) !== buf[start + i]) {
        same = false;
        break;
      }
    if (same) return known;
  }
  const text = Buffer.prototype.latin1Slice.call(buf, start, end) as string;
  internedText[slot] = text;
  return text;
}

/** A value nested deeper than MAX_VALUE_DEPTH: its record is rejected, or outside a record the request. */
class NestingError extends RangeError {}

function anyValue(r: Reader, end: number, depth: number): AnyValue {
  if (depth > MAX_VALUE_DEPTH) throw new NestingError(`values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  let value: AnyValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wire !== WIRE_LEN) break;
        value = stringField(r);
        continue;
      case 2:
        if (wire !== WIRE_VARINT) break;
        value = r.bool();
        continue;
      case 3:
        if (wire !== WIRE_VARINT) break;
        value = int64(r);
        continue;
      case 4:
        if (wire !== WIRE_FIXED64) break;
        value = r.double();
        continue;
      case 5:
        if (wire !== WIRE_LEN) break;
        value = arrayValue(r, fieldEnd(r), depth);
        continue;
      case 6:
        if (wire !== WIRE_LEN) break;
        value = keyValueList(r, fieldEnd(r), depth);
        continue;
      case 7:
        if (wire !== WIRE_LEN) break;
        // A copy, so the model does not pin the whole request buffer in memory.
        value = new Uint8Array(r.bytes());
        continue;
    }
    r.skipType(wire);
  }
  checkEnd(r, end);
  return value;
}

function arrayValue(r: Reader, end: number, depth: number): AnyValue[] {
  const out: AnyValue[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === TAG_1_LEN) out.push(anyValue(r, fieldEnd(r), depth + 1));
    else r.skipType(tag & 7);
  }
  checkEnd(r, end);
  return out;
}

/** KeyValueList { repeated KeyValue values = 1 } as an attribute map. */
function keyValueList(r: Reader, end: number, depth: number): Attributes {
  const out = newAttributes();
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === TAG_1_LEN) keyValue(r, fieldEnd(r), out, depth + 1);
    else r.skipType(tag & 7);
  }
  checkEnd(r, end);
  return out;
}

/** One KeyValue into `into`; repeated keys keep the last value, as the Go collector's maps do. */
function keyValue(r: Reader, end: number, into: Attributes, depth: number): void {
  let key = '';
  let value: AnyValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === TAG_1_LEN) key = stringField(r);
    else if (tag === TAG_2_LEN) value = anyValue(r, fieldEnd(r), depth);
    else r.skipType(tag & 7);
  }
  checkEnd(r, end);
  into[key] = value;
}

/**
 * Carries why the record being decoded must be rejected ("" when it is valid) out of logRecord
 * without allocating per record.
 */
interface RecordVerdict {
  reason: string;
  /** Timestamps after MAX_UNIX_NANO read so far in the request, records rejected or not. */
  unrepresentableTimes: number;
}

/** A timestamp the log model can hold, or 0 (unknown, counted) when it is later than MAX_UNIX_NANO. */
function timestamp(r: Reader, verdict: RecordVerdict): bigint {
  const t = fixed64(r);
  if (t <= MAX_UNIX_NANO) return t;
  verdict.unrepresentableTimes++;
  return 0n;
}

/**
 * A record's body: a value nested too deep rejects the record alone, as in OTLP/JSON; the rest of
 * the field is skipped.
 */
function recordBody(r: Reader, verdict: RecordVerdict): AnyValue {
  const end = fieldEnd(r);
  try {
    return anyValue(r, end, 0);
  } catch (err) {
    if (!(err instanceof NestingError)) throw err;
    verdict.reason ||= `body: ${err.message}`;
    r.pos = end;
    return null;
  }
}

/** One attribute of a record into `into`, rejected (with its record) as a body is when too deep. */
function recordAttribute(r: Reader, verdict: RecordVerdict, into: Attributes): void {
  const end = fieldEnd(r);
  try {
    keyValue(r, end, into, 0);
  } catch (err) {
    if (!(err instanceof NestingError)) throw err;
    verdict.reason ||= `attributes: ${err.message}`;
    r.pos = end;
  }
}

function logRecord(r: Reader, buf: Buffer, end: number, verdict: RecordVerdict): LogRecord {
  const rec = newLogRecord();
  verdict.reason = '';
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wire !== WIRE_FIXED64) break;
        rec.timeUnixNano = timestamp(r, verdict);
        continue;
      case 2:
        if (wire !== WIRE_VARINT) break;
        rec.severityNumber = r.int32();
        continue;
      case 3:
        if (wire !== WIRE_LEN) break;
        rec.severityText = stringField(r);
        continue;
      case 5:
        if (wire !== WIRE_LEN) break;
        rec.body = recordBody(r, verdict);
        continue;
      case 6:
        if (wire !== WIRE_LEN) break;
        recordAttribute(r, verdict, rec.attributes);
        continue;
      case 7:
        if (wire !== WIRE_VARINT) break;
        rec.droppedAttributesCount = r.uint32();
        continue;
      case 8:
        if (wire !== WIRE_FIXED32) break;
        rec.flags = r.fixed32();
        continue;
      case 9: {
        if (wire !== WIRE_LEN) break;
        const idEnd = fieldEnd(r);
        const length = idEnd - r.pos;
        if (length !== 16 && length !== 0) verdict.reason ||= `traceId: expected 16 bytes, got ${length}`;
        rec.traceId = idToHex(buf, r.pos, idEnd);
        r.pos = idEnd;
        continue;
      }
      case 10: {
        if (wire !== WIRE_LEN) break;
        const idEnd = fieldEnd(r);
        const length = idEnd - r.pos;
        if (length !== 8 && length !== 0) verdict.reason ||= `spanId: expected 8 bytes, got ${length}`;
        rec.spanId = idToHex(buf, r.pos, idEnd);
        r.pos = idEnd;
        continue;
      }
      case 11:
        if (wire !== WIRE_FIXED64) break;
        rec.observedTimeUnixNano = timestamp(r, verdict);
        continue;
      case 12:
        if (wire !== WIRE_LEN) break;
        rec.eventName = stringField(r);
        continue;
    }
    r.skipType(wire);
  }
  checkEnd(r, end);
  return rec;
}

/** Running totals over the whole request. */
interface Counts {
  records: number;
  rejected: number;
  rejectReason: string;
}

function scopeLogs(
  r: Reader,
  buf: Buffer,
  end: number,
  path: string,
  counts: Counts,
  verdict: RecordVerdict,
): ScopeLogs {
  const sl: ScopeLogs = {
    scope: { name: '', version: '', attributes: newAttributes(), droppedAttributesCount: 0 },
    schemaUrl: '',
    logRecords: [],
  };
  let index = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === TAG_2_LEN) {
      const rec = logRecord(r, buf, fieldEnd(r), verdict);
      if (verdict.reason) {
        counts.rejected++;
        counts.rejectReason ||= `${path}.logRecords[${index}].${verdict.reason}`;
      } else {
        sl.logRecords.push(rec);
      }
      index++;
    } else if (tag === TAG_1_LEN) {
      const scopeEnd = fieldEnd(r);
      while (r.pos < scopeEnd) {
        const t = r.uint32();
        if (t === TAG_1_LEN) sl.scope.name = stringField(r);
        else if (t === TAG_2_LEN) sl.scope.version = stringField(r);
        else if (t === TAG_3_LEN) keyValue(r, fieldEnd(r), sl.scope.attributes, 0);
        else if (t === TAG_4_VARINT) sl.scope.droppedAttributesCount = r.uint32();
        else r.skipType(t & 7);
      }
      checkEnd(r, scopeEnd);
    } else if (tag === TAG_3_LEN) {
      sl.schemaUrl = stringField(r);
    } else {
      r.skipType(tag & 7);
    }
  }
  checkEnd(r, end);
  counts.records += sl.logRecords.length;
  return sl;
}

function resourceLogs(
  r: Reader,
  buf: Buffer,
  end: number,
  path: string,
  counts: Counts,
  verdict: RecordVerdict,
): ResourceLogs {
  const rl: ResourceLogs = {
    resource: { attributes: newAttributes(), droppedAttributesCount: 0 },
    schemaUrl: '',
    scopeLogs: [],
  };
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === TAG_2_LEN) {
      rl.scopeLogs.push(scopeLogs(r, buf, fieldEnd(r), `${path}.scopeLogs[${rl.scopeLogs.length}]`, counts, verdict));
    } else if (tag === TAG_1_LEN) {
      const resourceEnd = fieldEnd(r);
      while (r.pos < resourceEnd) {
        const t = r.uint32();
        if (t === TAG_1_LEN) keyValue(r, fieldEnd(r), rl.resource.attributes, 0);
        else if (t === TAG_2_VARINT) rl.resource.droppedAttributesCount = r.uint32();
        else r.skipType(t & 7);
      }
      checkEnd(r, resourceEnd);
    } else if (tag === TAG_3_LEN) {
      rl.schemaUrl = stringField(r);
    } else {
      r.skipType(tag & 7);
    }
  }
  checkEnd(r, end);
  return rl;
}

/**
 * Decodes a protobuf ExportLogsServiceRequest. A record with a trace id that is neither empty nor
 * 16 bytes, a span id neither empty nor 8, or a value nested deeper than MAX_VALUE_DEPTH is
 * rejected alone; bytes that are not a valid message throw OtlpDecodeError (as does a value nested
 * too deep outside the records, in a resource or scope). A time after MAX_UNIX_NANO reads as 0.
 */
export function decodeLogsRequest(bytes: Uint8Array): DecodeResult {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = protobuf.Reader.create(buf);
  const counts: Counts = { records: 0, rejected: 0, rejectReason: '' };
  const verdict: RecordVerdict = { reason: '', unrepresentableTimes: 0 };
  const out: ResourceLogs[] = [];
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === TAG_1_LEN)
        out.push(resourceLogs(r, buf, fieldEnd(r), `resourceLogs[${out.length}]`, counts, verdict));
      else r.skipType(tag & 7);
    }
  } catch (err) {
    throw new OtlpDecodeError(`invalid protobuf: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    batch: { resourceLogs: out },
    records: counts.records,
    rejected: counts.rejected,
    rejectReason: counts.rejectReason,
    unrepresentableTimes: verdict.unrepresentableTimes,
  };
}
