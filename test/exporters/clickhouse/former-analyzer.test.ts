import t from 'tap';
import { clickhouseConfigSchema } from '../../../src/exporters/clickhouse/config.js';
import { encodeLogs, logsInsertStatement } from '../../../src/exporters/clickhouse/row-encoder.js';
import { schemaStatements } from '../../../src/exporters/clickhouse/schema.js';
import { newAttributes, newLogRecord, type AnyValue, type LogBatch } from '../../../src/pipeline/model.js';
import { embeddedClient, tempDir } from '../../support/daemon.js';

const TEXTS = [
  '',
  'plain ascii',
  'dollar $$ heredoc $$) end',
  "quote ' backslash \\ and \\' together",
  'newline\nTAB\tNUL \u0000 CR\r',
  'unicode ✓ 日本語 🚀',
  'lone surrogate \ud800 here',
  '"quotes" }] brackets [{',
];

const VALUES: AnyValue[] = [
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

function everyKindBatch(): LogBatch {
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
      r.body = j === 1 ? `${text} `.repeat(50_000) : j === 2 ? value : text;
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

t.test('the logs insert on the former analyzer stores what the current one stores, column by column', async (t) => {
  const client = embeddedClient(tempDir('former-analyzer'));
  t.teardown(() => client.close());
  for (const statement of schemaStatements(clickhouseConfigSchema.parse({}))) await client.command({ query: statement });
  await client.command({ query: 'CREATE TABLE otel.current AS otel.otel_logs' });
  await client.command({ query: 'CREATE TABLE otel.former AS otel.otel_logs' });

  const batch = everyKindBatch();
  const records = TEXTS.length * VALUES.length;
  const logs = encodeLogs(batch, 1_800_000_000_000_000_000n);
  t.equal(logs.parts.length, 1);
  const rows = logs.parts[0]!;
  const settings = { max_query_size: String(rows.length * 3 + 1024) };
  const current = logsInsertStatement('otel.current', logs, rows);
  const former = logsInsertStatement('otel.former', logs, rows, true);
  t.notOk(current.includes('enable_analyzer'));
  t.ok(former.endsWith(' SETTINGS enable_analyzer = 0'));
  await client.command({ query: current, clickhouse_settings: settings });
  await client.command({ query: former, clickhouse_settings: settings });

  const columns = (
    await (
      await client.query({
        query: "SELECT name FROM system.columns WHERE database = 'otel' AND table = 'current' ORDER BY position",
        format: 'JSONCompactEachRow',
      })
    ).json<[string]>()
  ).map(([name]) => name);
  t.ok(columns.includes('TemplateParams') && columns.includes('__otel_materialized_host.name'), 'materialised columns too');
  const read = async (table: string) =>
    (
      await client.query({
        query: `SELECT ${columns.map((c) => `\`${c}\``).join(', ')} FROM otel.${table} ORDER BY Timestamp, ObservedTimestamp`,
        format: 'JSONCompactEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      })
    ).json<unknown[]>();
  const [a, b] = [await read('current'), await read('former')];
  t.equal(a.length, records);
  t.equal(b.length, records);
  columns.forEach((column, c) => {
    t.same(
      b.map((row) => row[c]),
      a.map((row) => row[c]),
      column,
    );
  });
  const body = a.map((row) => row[columns.indexOf('Body')] as string).find((s) => s.length > 100_000);
  t.ok(body, 'a body over 100,000 characters is among them');
});
