import t from 'tap';
import { newAttributes, newLogRecord, type LogBatch } from '../../../src/pipeline/model.js';
import { embeddedClient, pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { encodeLogsRequest } from '../../../src/otlp/index.js';
import { encodeLogs, logsInsertStatement, partLines } from '../../../src/exporters/clickhouse/row-encoder.js';

const TRICKY = ['dollar $$ heredoc $$) end', "quote ' and backslash \\ and \\' together", 'newline\nand tab\tand NUL \u0000 and CR\r', 'unicode ✓ 日本語 🚀', '"double quotes" and }] brackets'];

function trickyBatch(): LogBatch {
  const batch: LogBatch = { resourceLogs: [] };
  TRICKY.forEach((text, i) => {
    const resource = newAttributes();
    resource['service.name'] = `svc ${text}`;
    resource[`key ${text}`] = text;
    const scopeAttrs = newAttributes();
    scopeAttrs[text] = BigInt(i);
    const r = newLogRecord();
    r.timeUnixNano = 1_700_000_000_000_000_000n + BigInt(i);
    r.body = text;
    r.severityText = text;
    r.eventName = text;
    r.attributes[text] = text;
    r.attributes['i'] = BigInt(i);
    batch.resourceLogs.push({
      resource: { attributes: resource, droppedAttributesCount: 0 },
      schemaUrl: text,
      scopeLogs: [{ scope: { name: text, version: text, attributes: scopeAttrs, droppedAttributesCount: 0 }, schemaUrl: text, logRecords: [r] }],
    });
  });
  return batch;
}

t.test('any text survives the insert: SQL literals, the $$ heredoc, JSON escapes', async (t) => {
  const path = tempDir('tricky');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: `embedded://${path}` }));
  t.teardown(() => daemon.stop());
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, { method: 'POST', body: encodeLogsRequest(trickyBatch()), headers: { 'Content-Type': 'application/x-protobuf' } });
  t.equal(res.status, 200);
  const client = embeddedClient(path);
  t.teardown(() => client.close());
  t.ok(await waitFor(async () => (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === String(TRICKY.length)));
  const rows = await queryRows<{
    Body: string;
    SeverityText: string;
    EventName: string;
    ServiceName: string;
    ResourceSchemaUrl: string;
    ScopeName: string;
    ScopeVersion: string;
    ScopeSchemaUrl: string;
    ResourceAttributes: Record<string, string>;
    ScopeAttributes: Record<string, string>;
    LogAttributes: Record<string, string>;
  }>(
    client,
    'SELECT Body, SeverityText, EventName, ServiceName, ResourceSchemaUrl, ScopeName, ScopeVersion, ScopeSchemaUrl, ResourceAttributes, ScopeAttributes, LogAttributes FROM otel.otel_logs ORDER BY Timestamp',
  );
  TRICKY.forEach((raw, i) => {
    const text = raw;
    t.same(
      rows[i],
      {
        Body: text,
        SeverityText: text,
        EventName: text,
        ServiceName: `svc ${text}`,
        ResourceSchemaUrl: text,
        ScopeName: text,
        ScopeVersion: text,
        ScopeSchemaUrl: text,
        ResourceAttributes: { [`key ${text}`]: text, 'service.name': `svc ${text}` },
        ScopeAttributes: { [text]: String(i) },
        LogAttributes: { [text]: text, i: String(i) },
      },
      JSON.stringify(raw),
    );
  });
});

t.test('a lone surrogate becomes U+FFFD, so the insert is valid UTF-8', async (t) => {
  const batch = trickyBatch();
  batch.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.body = 'x\ud800y';
  const logs = encodeLogs(batch, 0n);
  const sql = logsInsertStatement('otel.otel_logs', logs, partLines(logs.parts[0]!).toString());
  t.ok(sql.includes('"x\ufffdy"'));
  t.notOk(sql.includes('\\ud800'));
});
