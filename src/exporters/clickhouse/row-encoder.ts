import { anyValueToString, type AnyValue, type Attributes, type LogBatch } from '../../pipeline/model.js';

/** The otel_logs columns we write, in the order the encoder emits them. */
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

/**
 * Flattens a batch into JSONCompactEachRow text, one row per record. Resource and scope columns
 * are serialised once per resource/scope and reused for all their records. Timestamps and
 * TemplateId are written as bare integers so the 64-bit values reach ClickHouse exactly.
 * Map keys are sorted: unsorted keys hurt compression and made equal maps differ upstream.
 */
export function encodeRows(batch: LogBatch, nowUnixNano: bigint): string {
  const parts: string[] = [];
  for (const rl of batch.resourceLogs) {
    const resourceAttrs = rl.resource.attributes;
    const serviceName = resourceAttrs['service.name'];
    const resourcePart =
      `,${JSON.stringify(typeof serviceName === 'string' ? serviceName : serviceName === undefined ? '' : anyValueToString(serviceName))}`;
    const resourceTail = `,${JSON.stringify(rl.schemaUrl)},${encodeMap(resourceAttrs)}`;
    for (const sl of rl.scopeLogs) {
      const scopePart = `,${JSON.stringify(sl.schemaUrl)},${JSON.stringify(sl.scope.name)},${JSON.stringify(sl.scope.version)},${encodeMap(sl.scope.attributes)}`;
      for (const r of sl.logRecords) {
        const observed = r.observedTimeUnixNano !== 0n ? r.observedTimeUnixNano : nowUnixNano;
        const time = r.timeUnixNano !== 0n ? r.timeUnixNano : observed;
        parts.push(
          `[${time},${observed},"${r.traceId}","${r.spanId}",${r.flags & 0xff},${JSON.stringify(r.severityText)},${r.severityNumber & 0xff}` +
            resourcePart +
            `,${JSON.stringify(anyValueToString(r.body))}` +
            resourceTail +
            scopePart +
            `,${encodeMap(r.attributes)},${JSON.stringify(r.eventName)},${r.templateId ?? 0n},${r.templateParams ? JSON.stringify(r.templateParams) : '[]'}]\n`,
        );
      }
    }
  }
  return parts.join('');
}

function encodeMap(attrs: Attributes): string {
  const keys = Object.keys(attrs);
  if (keys.length === 0) return '{}';
  keys.sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (i > 0) out += ',';
    out += `${JSON.stringify(k)}:${JSON.stringify(anyValueToString(attrs[k] as AnyValue))}`;
  }
  return `${out}}`;
}
