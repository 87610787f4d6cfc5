import { existsSync, mkdirSync, readdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { pino } from 'pino';
import t from 'tap';
import { clickhouseConfigSchema } from '../../../src/exporters/clickhouse/config.js';
import { encodeLogs, logsFileInsertStatement, logsInsertStatement, partLines } from '../../../src/exporters/clickhouse/row-encoder.js';
import { RowsFiles } from '../../../src/exporters/clickhouse/rows-files.js';
import { ClickHouseLogsSender } from '../../../src/exporters/clickhouse/exporter.js';
import { schemaStatements } from '../../../src/exporters/clickhouse/schema.js';
import { Telemetry } from '../../../src/telemetry/metrics.js';
import { encodeLogsRequest } from '../../../src/otlp/index.js';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { columnsOf, readColumns, sameColumns } from '../../support/columns.js';
import { everyKindBatch, TEXTS, VALUES } from '../../support/every-kind-batch.js';
import { embeddedClient, pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';

t.test('rows inserted from a file, compressed or not, are stored as the rows in the statement, column by column', async (t) => {
  const dir = tempDir('rows-file');
  const client = embeddedClient(dir);
  t.teardown(() => client.close());
  for (const statement of schemaStatements(clickhouseConfigSchema.parse({}))) await client.command({ query: statement });
  await client.command({ query: 'CREATE TABLE otel.in_statement AS otel.otel_logs' });
  await client.command({ query: 'CREATE TABLE otel.from_file AS otel.otel_logs' });
  await client.command({ query: 'CREATE TABLE otel.from_zstd_file AS otel.otel_logs' });

  const batch = everyKindBatch();
  const records = TEXTS.length * VALUES.length;
  const logs = encodeLogs(batch, 1_800_000_000_000_000_000n);
  t.equal(logs.parts.length, 1);
  const part = logs.parts[0]!;
  t.equal(part.rows, records, 'the part counts its rows');
  const lines = partLines(part);
  t.equal(lines.length, part.bytes, 'and its bytes uncompressed');
  t.ok(part.zstd.length < lines.length / 2, `compressed: ${part.zstd.length} of ${lines.length} bytes`);
  const inStatement = logsInsertStatement('otel.in_statement', logs, lines.toString());
  await client.command({ query: inStatement, clickhouse_settings: { max_query_size: String(lines.length * 3 + 1024) } });
  // A quote and a backslash in the store's path reach chDB as the path.
  const files = RowsFiles.forExporter(join(dir, "it's \\ here"), 'clickhouse/x');
  files.prepare();
  for (const [table, file] of [
    ['from_file', await files.write(lines, '.jsonl')],
    ['from_zstd_file', await files.write(part.zstd, '.jsonl.zst')],
  ] as const) {
    const fromFile = logsFileInsertStatement(`otel.${table}`, logs, file);
    t.ok(fromFile.length < 4096, 'the rows are not in the statement');
    await client.command({ query: fromFile });
    await files.remove(file);
    t.notOk(existsSync(file), 'the file is removed');
  }

  const columns = await columnsOf(client, 'otel', 'in_statement');
  t.ok(columns.includes('TemplateParams') && columns.includes('__otel_materialized_host.name'), 'materialised columns too');
  const a = await readColumns(client, columns, 'otel.in_statement');
  t.equal(a.length, records);
  for (const table of ['from_file', 'from_zstd_file']) {
    const b = await readColumns(client, columns, `otel.${table}`);
    t.equal(b.length, records, table);
    sameColumns(t, columns, b, a, table);
  }
  const body = a.map((row) => row[columns.indexOf('Body')] as string).find((s) => s.length > 100_000);
  t.ok(body, 'a body over 100,000 characters is among them');
});

t.test('rows sent to a server in the body after the query, zstd or not, and those an older queue holds, are stored as the rows in the statement, column by column', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('rows-body') });
  t.teardown(() => front.close());
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  const logs = encodeLogs(everyKindBatch(), 1_800_000_000_000_000_000n);
  const records = TEXTS.length * VALUES.length;
  const lines = partLines(logs.parts[0]!).toString();
  const sender = async (database: string, compress: string) => {
    const config = clickhouseConfigSchema.parse({ endpoint: front.url, database, compress });
    const s = new ClickHouseLogsSender(config, {
      id: 'clickhouse',
      kind: 'exporter',
      logger: pino({ level: 'silent' }),
      telemetry: new Telemetry().forComponent('exporter', 'clickhouse'),
    });
    await s.start();
    t.teardown(() => s.stop());
    return s;
  };
  for (const compress of ['zstd', 'gzip', 'none'] as const) {
    const s = await sender(`body_${compress}`, compress);
    t.equal(await s.attempt({ logs, templates: undefined }, records, `body-${compress}`, 1), undefined, `${compress}: nothing refused`);
  }
  // What a queue left by an earlier version holds is sent after an upgrade: the rows as text
  // parts (0xFFFFFFFF, then each string's u32 length and bytes), or before those one statement.
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const strings = [logs.resources, logs.scopes, '', lines].map((x) => Buffer.from(x));
  const textParts = Buffer.concat([u32(0xffffffff), u32(strings.length), ...strings.flatMap((x) => [u32(x.length), x])]);
  const statement = Buffer.from(logsInsertStatement('queued_statement.otel_logs', logs, lines));
  for (const [database, bytes] of [
    ['queued_text_parts', textParts],
    ['queued_statement', Buffer.concat([u32(statement.length), statement])],
  ] as const) {
    const s = await sender(database, 'zstd');
    t.equal(await s.attempt(s.codec.decode(bytes), records, database, 1), undefined, `${database}: nothing refused`);
  }
  await client.command({ query: 'CREATE TABLE body_none.in_statement AS body_none.otel_logs' });
  await client.command({
    query: logsInsertStatement('body_none.in_statement', logs, lines),
    clickhouse_settings: { max_query_size: String(lines.length * 3 + 1024) },
  });
  const columns = await columnsOf(client, 'body_none', 'otel_logs');
  const a = await readColumns(client, columns, 'body_none.in_statement');
  t.equal(a.length, records);
  for (const database of ['body_zstd', 'body_gzip', 'body_none', 'queued_text_parts', 'queued_statement']) {
    const b = await readColumns(client, columns, `${database}.otel_logs`);
    t.equal(b.length, records, database);
    sameColumns(t, columns, b, a, database);
  }
  t.same([...front.encodings.keys()].filter((e) => e !== '').sort(), ['gzip', 'zstd'], 'the bodies were compressed as configured');
});

t.test('the daemon inserts embedded rows through files it removes, and clears those a crash left', async (t) => {
  const path = tempDir('rows-dir');
  const dir = join(path, 'otelhouse_rows', 'clickhouse');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '0.jsonl'), 'left by a process that died mid-insert\n');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: `embedded://${path}` }));
  t.teardown(() => daemon.stop());
  t.same(readdirSync(dir), [], 'the files left are removed at start');
  const seen = new Set<string>();
  const watcher = watch(dir, (_event, name) => seen.add(String(name)));
  t.teardown(() => watcher.close());
  const batch = everyKindBatch(false);
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
    method: 'POST',
    body: encodeLogsRequest(batch),
    headers: { 'Content-Type': 'application/x-protobuf' },
  });
  t.equal(res.status, 200);
  const client = embeddedClient(path);
  t.teardown(() => client.close());
  const records = String(TEXTS.length * VALUES.length);
  t.ok(await waitFor(async () => (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === records), 'the records are stored');
  t.ok(
    [...seen].some((name) => name.endsWith('.jsonl.zst')),
    `the rows went through a compressed file (${[...seen].join(', ')})`,
  );
  // The insert commits before its file is removed, so the count can be seen a moment before.
  t.ok(await waitFor(async () => readdirSync(dir).length === 0), `no file is left once they are (${readdirSync(dir).join(', ')})`);
});
