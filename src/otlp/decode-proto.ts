import { newAttributes, type AnyValue, type Attributes, type LogBatch, type LogRecord, type ResourceLogs, type ScopeLogs } from '../pipeline/model.js';
import { OtlpDecodeError } from './errors.js';
import { ExportLogsServiceRequest } from './proto-types.js';

/** What decoding a request produced: the batch of valid records and the count of rejected ones. */
export interface DecodeResult {
  batch: LogBatch;
  records: number;
  rejected: number;
  rejectReason: string;
}

/** protobufjs hands 64-bit fields over as Long (the `long` package is installed) or as a number. */
interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}
type Int64 = LongLike | number | string;

interface PbKeyValue {
  key: string;
  value?: PbAnyValue | null;
}
interface PbAnyValue {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values: PbAnyValue[] } | null;
  kvlistValue?: { values: PbKeyValue[] } | null;
  bytesValue?: Uint8Array;
}
interface PbLogRecord {
  timeUnixNano: Int64;
  observedTimeUnixNano: Int64;
  severityNumber: number;
  severityText: string;
  body?: PbAnyValue | null;
  attributes: PbKeyValue[];
  droppedAttributesCount: number;
  flags: number;
  traceId: Uint8Array;
  spanId: Uint8Array;
  eventName: string;
}
interface PbRequest {
  resourceLogs: Array<{
    resource?: { attributes: PbKeyValue[]; droppedAttributesCount: number } | null;
    schemaUrl: string;
    scopeLogs: Array<{
      scope?: { name: string; version: string; attributes: PbKeyValue[]; droppedAttributesCount: number } | null;
      schemaUrl: string;
      logRecords: PbLogRecord[];
    }>;
  }>;
}

const TWO_32 = 4294967296n;

function uint64(v: Int64): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  return BigInt(v.high >>> 0) * TWO_32 + BigInt(v.low >>> 0);
}

function int64(v: Int64): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  return BigInt(v.high | 0) * TWO_32 + BigInt(v.low >>> 0);
}

function anyValue(v: PbAnyValue | null | undefined): AnyValue {
  if (!v) return null;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue!;
    case 'boolValue':
      return v.boolValue!;
    case 'intValue':
      return int64(v.intValue!);
    case 'doubleValue':
      return v.doubleValue!;
    case 'bytesValue':
      return v.bytesValue!;
    case 'arrayValue':
      return (v.arrayValue?.values ?? []).map(anyValue);
    case 'kvlistValue':
      return attributes(v.kvlistValue?.values ?? []);
    default:
      return null;
  }
}

function attributes(list: PbKeyValue[]): Attributes {
  const out = newAttributes();
  for (let i = 0; i < list.length; i++) {
    const kv = list[i]!;
    out[kv.key] = anyValue(kv.value);
  }
  return out;
}

function hexId(bytes: Uint8Array): string {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return '';
}

/**
 * Decodes a protobuf ExportLogsServiceRequest with the types loaded from proto/. A record with a
 * trace id that is not 16 bytes or a span id that is not 8 is rejected alone; an all-zero id
 * means "no id", as the spec says.
 */
export function decodeLogsRequest(buf: Uint8Array): DecodeResult {
  let message: PbRequest;
  try {
    message = ExportLogsServiceRequest.decode(buf) as unknown as PbRequest;
  } catch (err) {
    throw new OtlpDecodeError(`invalid protobuf ExportLogsServiceRequest: ${(err as Error).message}`);
  }
  let records = 0;
  let rejected = 0;
  let rejectReason = '';
  const resourceLogs: ResourceLogs[] = [];
  for (let ri = 0; ri < message.resourceLogs.length; ri++) {
    const rl = message.resourceLogs[ri]!;
    const scopeLogs: ScopeLogs[] = [];
    for (let si = 0; si < rl.scopeLogs.length; si++) {
      const sl = rl.scopeLogs[si]!;
      const logRecords: LogRecord[] = [];
      for (let li = 0; li < sl.logRecords.length; li++) {
        const r = sl.logRecords[li]!;
        const badId = r.traceId.length !== 0 && r.traceId.length !== 16 ? 'traceId' : r.spanId.length !== 0 && r.spanId.length !== 8 ? 'spanId' : '';
        if (badId) {
          rejected++;
          rejectReason ||= `resourceLogs[${ri}].scopeLogs[${si}].logRecords[${li}].${badId}: expected ${badId === 'traceId' ? 16 : 8} bytes, got ${(badId === 'traceId' ? r.traceId : r.spanId).length}`;
          continue;
        }
        logRecords.push({
          timeUnixNano: uint64(r.timeUnixNano),
          observedTimeUnixNano: uint64(r.observedTimeUnixNano),
          severityNumber: r.severityNumber,
          severityText: r.severityText,
          body: anyValue(r.body),
          attributes: attributes(r.attributes),
          droppedAttributesCount: r.droppedAttributesCount,
          flags: r.flags >>> 0,
          traceId: hexId(r.traceId),
          spanId: hexId(r.spanId),
          eventName: r.eventName,
        });
      }
      records += logRecords.length;
      scopeLogs.push({
        scope: {
          name: sl.scope?.name ?? '',
          version: sl.scope?.version ?? '',
          attributes: attributes(sl.scope?.attributes ?? []),
          droppedAttributesCount: sl.scope?.droppedAttributesCount ?? 0,
        },
        schemaUrl: sl.schemaUrl,
        logRecords,
      });
    }
    resourceLogs.push({
      resource: { attributes: attributes(rl.resource?.attributes ?? []), droppedAttributesCount: rl.resource?.droppedAttributesCount ?? 0 },
      schemaUrl: rl.schemaUrl,
      scopeLogs,
    });
  }
  return { batch: { resourceLogs }, records, rejected, rejectReason };
}
