import type { AnyValue, Attributes, LogBatch, LogRecord } from '../pipeline/model.js';
import { ExportLogsServiceRequest, ExportLogsServiceResponse, RpcStatus } from './proto-types.js';

export interface PartialSuccess {
  rejectedLogRecords: number;
  errorMessage: string;
}

/**
 * protobufjs and OTLP/JSON differ in how 64-bit integers, ids and values are written; the message
 * layout around them is the same.
 */
interface RequestFlavour {
  uint64(v: bigint): unknown;
  anyValue(v: AnyValue): object;
  id(hex: string): Uint8Array | string;
}

function keyValues(attrs: Attributes, f: RequestFlavour): object[] {
  return Object.keys(attrs).map((key) => ({ key, value: f.anyValue(attrs[key]!) }));
}

/** Fields holding their default value are left out, as proto3 encoders do. */
function recordObject(r: LogRecord, f: RequestFlavour): object {
  const out: Record<string, unknown> = {};
  if (r.timeUnixNano !== 0n) out.timeUnixNano = f.uint64(r.timeUnixNano);
  if (r.observedTimeUnixNano !== 0n) out.observedTimeUnixNano = f.uint64(r.observedTimeUnixNano);
  if (r.severityNumber !== 0) out.severityNumber = r.severityNumber;
  if (r.severityText) out.severityText = r.severityText;
  if (r.body !== null) out.body = f.anyValue(r.body);
  const attributes = keyValues(r.attributes, f);
  if (attributes.length) out.attributes = attributes;
  if (r.droppedAttributesCount) out.droppedAttributesCount = r.droppedAttributesCount;
  if (r.flags) out.flags = r.flags;
  if (r.traceId) out.traceId = f.id(r.traceId);
  if (r.spanId) out.spanId = f.id(r.spanId);
  if (r.eventName) out.eventName = r.eventName;
  return out;
}

function requestObject(batch: LogBatch, f: RequestFlavour): object {
  return {
    resourceLogs: batch.resourceLogs.map((rl) => ({
      resource: {
        attributes: keyValues(rl.resource.attributes, f),
        droppedAttributesCount: rl.resource.droppedAttributesCount,
      },
      schemaUrl: rl.schemaUrl,
      scopeLogs: rl.scopeLogs.map((sl) => ({
        scope: {
          name: sl.scope.name,
          version: sl.scope.version,
          attributes: keyValues(sl.scope.attributes, f),
          droppedAttributesCount: sl.scope.droppedAttributesCount,
        },
        schemaUrl: sl.schemaUrl,
        logRecords: sl.logRecords.map((r) => recordObject(r, f)),
      })),
    })),
  };
}

/**
 * protobufjs writes {low, high} pairs exactly. Numbers above 2^53 would be rounded, and decimal
 * strings are exact only when protobufjs has found the `long` package.
 */
function longBits(v: bigint): { low: number; high: number } {
  return { low: Number(BigInt.asIntN(32, v)), high: Number(BigInt.asIntN(32, v >> 32n)) };
}

function pbAnyValue(v: AnyValue): object {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'bigint':
      return { intValue: longBits(v) };
    case 'number':
      return { doubleValue: v };
    default:
      if (v === null) return {};
      if (v instanceof Uint8Array) return { bytesValue: v };
      if (Array.isArray(v)) return { arrayValue: { values: v.map(pbAnyValue) } };
      return { kvlistValue: { values: keyValues(v, PROTOBUF) } };
  }
}

const PROTOBUF: RequestFlavour = { uint64: longBits, anyValue: pbAnyValue, id: (hex) => Buffer.from(hex, 'hex') };

/** Encodes a batch as a protobuf ExportLogsServiceRequest (for forwarding, tests and benchmarks). */
export function encodeLogsRequest(batch: LogBatch): Uint8Array {
  return ExportLogsServiceRequest.encode(requestObject(batch, PROTOBUF)).finish();
}

/** proto3 JSON spells the doubles JSON has no literal for as strings. */
function jsonDouble(v: number): number | string {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? 'Infinity' : '-Infinity';
}

function jsonAnyValue(v: AnyValue): object {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'bigint':
      return { intValue: v.toString() };
    case 'number':
      return { doubleValue: jsonDouble(v) };
    default:
      if (v === null) return {};
      if (v instanceof Uint8Array)
        return { bytesValue: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      if (Array.isArray(v)) return { arrayValue: { values: v.map(jsonAnyValue) } };
      return { kvlistValue: { values: keyValues(v, JSON_FLAVOUR) } };
  }
}

const JSON_FLAVOUR: RequestFlavour = { uint64: (v) => v.toString(), anyValue: jsonAnyValue, id: (hex) => hex };

/** Encodes a batch as OTLP/JSON: camelCase names, hex ids, 64-bit integers as decimal strings. */
export function encodeLogsRequestJson(batch: LogBatch): string {
  return JSON.stringify(requestObject(batch, JSON_FLAVOUR));
}

/** The response to an export: empty when everything was accepted, else partial_success. */
export function encodeLogsResponse(partial?: PartialSuccess): Uint8Array {
  return ExportLogsServiceResponse.encode(
    partial
      ? { partialSuccess: { rejectedLogRecords: partial.rejectedLogRecords, errorMessage: partial.errorMessage } }
      : {},
  ).finish();
}

export function encodeLogsResponseJson(partial?: PartialSuccess): string {
  return JSON.stringify(
    partial
      ? {
          partialSuccess: {
            rejectedLogRecords: String(partial.rejectedLogRecords),
            errorMessage: partial.errorMessage,
          },
        }
      : {},
  );
}

/** google.rpc.Status, the body of an OTLP/HTTP error response. */
export function encodeStatus(code: number, message: string): Uint8Array {
  return RpcStatus.encode({ code, message }).finish();
}

export function encodeStatusJson(code: number, message: string): string {
  return JSON.stringify({ code, message });
}
