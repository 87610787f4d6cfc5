import { newAttributes, newLogRecord, type AnyValue, type LogBatch } from '../../src/pipeline/model.js';

/*
 * A batch with every kind of text and value an insert must carry exactly.
 */

export const TEXTS = [
  '',
  'plain ascii',
  'dollar $$ heredoc $$) end',
  "quote ' backslash \\ and \\' together",
  'newline\nTAB\tNUL \u0000 CR\r',
  'unicode ✓ 日本語 🚀',
  'lone surrogate \ud800 here',
  '"quotes" }] brackets [{',
];

export const VALUES: AnyValue[] = [
  'a string',
  true,
  false,
  0n,
  -(2n ** 63n),
  2n ** 63n - 1n,
  0.1,
  -1.5e300,
  new Uint8Array([0, 1, 0xfe, 0xff]),
  ['x', 1n, [true, null], { nested: 'kv' }],
  { k: 'v', deeper: { list: [1.25, 'y'] } },
  null,
  [],
];

export function everyKindBatch(hugeBody = true): LogBatch {
  const batch: LogBatch = { resourceLogs: [] };
  TEXTS.forEach((text, i) => {
    const resource = newAttributes();
    resource['service.name'] = `svc ${text}`;
    resource[`r ${text}`] = VALUES[i % VALUES.length]!;
    const scopeAttributes = newAttributes();
    scopeAttributes[`s ${text}`] = VALUES[(i + 3) % VALUES.length]!;
    const logRecords = VALUES.map((value, j) => {
      const r = newLogRecord();
      r.timeUnixNano = j === 0 ? 0n : 1_700_000_000_000_000_000n + BigInt(i * 100 + j);
      r.observedTimeUnixNano = 1_700_000_000_500_000_000n + BigInt(i * 100 + j);
      r.traceId = 'ab'.repeat(16);
      r.spanId = j % 2 ? '' : 'cd'.repeat(8);
      r.flags = j;
      r.severityNumber = j % 25;
      r.severityText = text;
      r.body = j === 1 && hugeBody ? `${text} `.repeat(50_000) : j === 2 ? value : text;
      r.eventName = text;
      r.attributes[text] = value;
      r.attributes['kind'] = String(j);
      r.templateId = j % 3 === 0 ? 2n ** 64n - 1n - BigInt(j) : BigInt(j);
      r.templateParams = j % 2 ? [] : [text, '<*>', String(2n ** 63n + BigInt(j))];
      return r;
    });
    batch.resourceLogs.push({
      resource: { attributes: resource, droppedAttributesCount: 0 },
      schemaUrl: `https://example.com/${i}`,
      scopeLogs: [
        {
          scope: { name: `scope ${text}`, version: String(i), attributes: scopeAttributes, droppedAttributesCount: 0 },
          schemaUrl: text,
          logRecords,
        },
      ],
    });
  });
  return batch;
}
