import { isRepresentableUnixNano } from '../../pipeline/limits.js';
import {
  attributesFromJson,
  newAttributes,
  newLogRecord,
  type Attributes,
  type LogBatch,
  type LogRecord,
  type ResourceLogs,
} from '../../pipeline/model.js';

/** One entry the API refused, by its position in the request. */
export interface EntryError {
  index: number;
  reason: string;
}

export interface MappedEntries {
  batch: LogBatch;
  records: number;
  errors: EntryError[];
  /** Entries whose timestamp the model cannot hold (before 1970, after 2262-04-11): they got the time of receipt. */
  unrepresentableTimes: number;
}

const SEVERITY: Record<string, number> = {
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  NOTICE: 10,
  WARN: 13,
  WARNING: 13,
  ERROR: 17,
  ERR: 17,
  CRITICAL: 21,
  CRIT: 21,
  ALERT: 22,
  EMERGENCY: 23,
  FATAL: 21,
};

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const HEX = /^[0-9a-f]*$/i;

class InvalidEntry extends Error {}

/** ISO 8601 to unix nanoseconds, keeping fractions below the millisecond that Date drops. */
export function parseIsoTimestamp(text: string): bigint | undefined {
  const m = ISO_8601.exec(text.trim());
  if (!m) return undefined;
  const zone =
    m[4] === undefined || m[4].toUpperCase() === 'Z'
      ? 'Z'
      : m[4].length === 3
        ? `${m[4]}:00`
        : m[4].includes(':')
          ? m[4]
          : `${m[4].slice(0, 3)}:${m[4].slice(3)}`;
  const seconds = Date.parse(`${m[1]}T${m[2]!.length === 5 ? `${m[2]}:00` : m[2]}${zone}`);
  if (Number.isNaN(seconds)) return undefined;
  const fraction = BigInt((m[3] ?? '').padEnd(9, '0') || '0');
  return BigInt(seconds) * 1_000_000n + fraction;
}

function optionalString(entry: Record<string, unknown>, key: string): string {
  const v = entry[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new InvalidEntry(`${key}: expected a string`);
  return v;
}

function hexId(entry: Record<string, unknown>, key: string, length: number): string {
  const v = optionalString(entry, key);
  if (v === '') return '';
  if (v.length !== length || !HEX.test(v)) throw new InvalidEntry(`${key}: expected ${length} hex characters`);
  return v.toLowerCase();
}

interface Mapped {
  resourceKey: string;
  resource: Attributes;
  record: LogRecord;
  timeUnrepresentable: boolean;
}

function mapEntry(entry: unknown, nowUnixNano: bigint): Mapped {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw new InvalidEntry('expected a JSON object');
  const e = entry as Record<string, unknown>;
  const org = optionalString(e, 'org');
  if (!org) throw new InvalidEntry('org: required');
  if (typeof e.message !== 'string')
    throw new InvalidEntry(e.message === undefined ? 'message: required' : 'message: expected a string');
  const dashboard = optionalString(e, 'dashboard');
  const service = optionalString(e, 'service');
  const host = optionalString(e, 'host');
  const level = (optionalString(e, 'level') || 'INFO').toUpperCase();
  const record = newLogRecord();
  record.observedTimeUnixNano = nowUnixNano;
  record.timeUnixNano = nowUnixNano;
  let timeUnrepresentable = false;
  if (e.timestamp !== undefined && e.timestamp !== null) {
    const ts = typeof e.timestamp === 'string' ? parseIsoTimestamp(e.timestamp) : undefined;
    if (ts === undefined)
      throw new InvalidEntry('timestamp: expected an ISO 8601 date-time such as 2024-05-01T12:00:00.123Z');
    // A valid date the store cannot hold is unknown, as in OTLP: the entry is kept, at its time of receipt.
    if (isRepresentableUnixNano(ts)) record.timeUnixNano = ts;
    else timeUnrepresentable = true;
  }
  record.severityText = level;
  record.severityNumber = SEVERITY[level] ?? 0;
  record.body = e.message;
  if (e.metadata !== undefined && e.metadata !== null) {
    if (typeof e.metadata !== 'object' || Array.isArray(e.metadata))
      throw new InvalidEntry('metadata: expected an object');
    record.attributes = attributesFromJson(e.metadata as Record<string, unknown>);
  }
  record.traceId = hexId(e, 'trace_id', 32);
  record.spanId = hexId(e, 'span_id', 16);
  const resource = newAttributes();
  resource['org'] = org;
  if (dashboard) resource['dashboard'] = dashboard;
  if (service) resource['service.name'] = service;
  if (host) resource['host.name'] = host;
  return {
    resourceKey: `${org}\u0000${dashboard}\u0000${service}\u0000${host}`,
    resource,
    record,
    timeUnrepresentable,
  };
}

/**
 * Maps the JSON ingest API's entries to a batch: service → service.name, host → host.name, org and
 * dashboard as resource attributes, level → severity, metadata → log attributes. Entries of the
 * same org/dashboard/service/host share one resource. An invalid entry is reported by its index
 * and the others are kept. `parseFailures` are entries that were not even JSON (NDJSON lines).
 */
export function mapEntries(entries: unknown[], nowUnixNano: bigint, parseFailures: EntryError[] = []): MappedEntries {
  const errors = [...parseFailures];
  const resources = new Map<string, ResourceLogs>();
  let records = 0;
  let unrepresentableTimes = 0;
  entries.forEach((entry, index) => {
    if (entry === undefined) return;
    try {
      const m = mapEntry(entry, nowUnixNano);
      let rl = resources.get(m.resourceKey);
      if (!rl) {
        rl = {
          resource: { attributes: m.resource, droppedAttributesCount: 0 },
          schemaUrl: '',
          scopeLogs: [
            {
              scope: {
                name: 'otelhouse/json_ingest',
                version: '',
                attributes: newAttributes(),
                droppedAttributesCount: 0,
              },
              schemaUrl: '',
              logRecords: [],
            },
          ],
        };
        resources.set(m.resourceKey, rl);
      }
      rl.scopeLogs[0]!.logRecords.push(m.record);
      records++;
      if (m.timeUnrepresentable) unrepresentableTimes++;
    } catch (err) {
      if (!(err instanceof InvalidEntry)) throw err;
      errors.push({ index, reason: err.message });
    }
  });
  errors.sort((a, b) => a.index - b.index);
  return { batch: { resourceLogs: [...resources.values()] }, records, errors, unrepresentableTimes };
}
