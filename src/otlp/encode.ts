import { isKeyValueList, type AnyValue, type Attributes, type LogBatch } from '../pipeline/model.js';
import { ExportLogsServiceRequest, ExportLogsServiceResponse, RpcStatus } from './proto-types.js';

export interface PartialSuccess {
  rejectedLogRecords: number;
  errorMessage: string;
}

/** 64-bit values go to protobufjs as decimal strings, which it converts exactly (via Long). */
function pbAnyValue(v: AnyValue): object | null {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'bigint':
      return { intValue: v.toString() };
    case 'number':
      return { doubleValue: v };
    default:
      if (v === null) return null;
      if (v instanceof Uint8Array) return { bytesValue: v };
      if (Array.isArray(v)) return { arrayValue: { values: v.map((x) => pbAnyValue(x) ?? {}) } };
      return { kvlistValue: { values: pbAttributes(v) } };
  }
}

function pbAttributes(attrs: Attributes): object[] {
  return Object.keys(attrs).map((key) => ({ key, value: pbAnyValue(attrs[key]!) }));
}

function idBytes(hex: string): Uint8Array {
  return hex ? Buffer.from(hex, 'hex') : new Uint8Array(0);
}

/** How values and ids are written: protobufjs objects and OTLP/JSON differ only there. */
interface RequestFlavour {
  attributes(attrs: Attributes): object[];
  anyValue(v: AnyValue): object | null;
  id(hex: string): Uint8Array | string;
}

function requestObject(batch: LogBatch, f: RequestFlavour): object {
  return {
    resourceLogs: batch.resourceLogs.map((rl) => ({
      resource: { attributes: f.attributes(rl.resource.attributes), droppedAttributesCount: rl.resource.droppedAttributesCount },
      schemaUrl: rl.schemaUrl,
      scopeLogs: rl.scopeLogs.map((sl) => ({
        scope: { name: sl.scope.name, version: sl.scope.version, attributes: f.attributes(sl.scope.attributes), droppedAttributesCount: sl.scope.droppedAttributesCount },
        schemaUrl: sl.schemaUrl,
        logRecords: sl.logRecords.map((r) => ({
          timeUnixNano: r.timeUnixNano.toString(),
          observedTimeUnixNano: r.observedTimeUnixNano.toString(),
          severityNumber: r.severityNumber,
          severityText: r.severityText,
          body: f.anyValue(r.body),
          attributes: f.attributes(r.attributes),
          droppedAttributesCount: r.droppedAttributesCount,
          flags: r.flags,
          traceId: f.id(r.traceId),
          spanId: f.id(r.spanId),
          eventName: r.eventName,
        })),
      })),
    })),
  };
}

const PROTOBUF: RequestFlavour = { attributes: pbAttributes, anyValue: pbAnyValue, id: idBytes };

/** Encodes a batch as a protobuf ExportLogsServiceRequest (for forwarding, tests and benchmarks). */
export function encodeLogsRequest(batch: LogBatch): Uint8Array {
  return ExportLogsServiceRequest.encode(requestObject(batch, PROTOBUF)).finish();
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
      return { doubleValue: Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity' };
    default:
      if (v === null) return {};
      if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      if (Array.isArray(v)) return { arrayValue: { values: v.map(jsonAnyValue) } };
      return isKeyValueList(v) ? { kvlistValue: { values: jsonAttributes(v) } } : {};
  }
}

function jsonAttributes(attrs: Attributes): object[] {
  return Object.keys(attrs).map((key) => ({ key, value: jsonAnyValue(attrs[key]!) }));
}

const JSON_FLAVOUR: RequestFlavour = { attributes: jsonAttributes, anyValue: jsonAnyValue, id: (hex) => hex };

/** Encodes a batch as OTLP/JSON: camelCase names, hex ids, 64-bit integers as strings. */
export function encodeLogsRequestJson(batch: LogBatch): string {
  return JSON.stringify(requestObject(batch, JSON_FLAVOUR));
}

/** The response to an export: empty when everything was accepted, else partial_success. */
export function encodeLogsResponse(partial?: PartialSuccess): Uint8Array {
  return ExportLogsServiceResponse.encode(partial ? { partialSuccess: { rejectedLogRecords: partial.rejectedLogRecords, errorMessage: partial.errorMessage } } : {}).finish();
}

export function encodeLogsResponseJson(partial?: PartialSuccess): string {
  return JSON.stringify(partial ? { partialSuccess: { rejectedLogRecords: String(partial.rejectedLogRecords), errorMessage: partial.errorMessage } } : {});
}

/** google.rpc.Status, the body of an OTLP/HTTP error response. */
export function encodeStatus(code: number, message: string): Uint8Array {
  return RpcStatus.encode({ code, message }).finish();
}

export function encodeStatusJson(code: number, message: string): string {
  return JSON.stringify({ code, message });
}
