import { newAttributes, newLogRecord, type LogBatch } from '../../src/pipeline/model.js';

/**
 * A batch of `count` records tagged with `seq` = first…first+count-1, as a load generator sends;
 * `padding` adds an attribute of that many bytes to each.
 */
export function numberedBatch(first: number, count: number, service = 'loadgen', padding = 0): LogBatch {
  const resourceAttrs = newAttributes();
  resourceAttrs['service.name'] = service;
  resourceAttrs['host.name'] = 'bench-host';
  const logRecords = [];
  for (let i = 0; i < count; i++) {
    const r = newLogRecord();
    const seq = first + i;
    r.timeUnixNano = 1_700_000_000_000_000_000n + BigInt(seq);
    r.observedTimeUnixNano = r.timeUnixNano + 1000n;
    r.severityNumber = 9;
    r.severityText = 'INFO';
    r.body = `request ${seq} served in ${seq % 97}ms from 10.0.${seq % 255}.${seq % 7}`;
    r.attributes['seq'] = BigInt(seq);
    r.attributes['http.route'] = '/api/orders/{id}';
    if (padding > 0) r.attributes['padding'] = 'x'.repeat(padding);
    r.traceId = seq.toString(16).padStart(32, '0');
    r.spanId = seq.toString(16).padStart(16, '0');
    logRecords.push(r);
  }
  return {
    resourceLogs: [
      {
        resource: { attributes: resourceAttrs, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeLogs: [{ scope: { name: 'loadgen', version: '1', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', logRecords }],
      },
    ],
  };
}
