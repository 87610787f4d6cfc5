import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import t from 'tap';
import { encodeLogsRequest } from '../../../src/otlp/index.js';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { pipelineYaml, startTestDaemon, tempDir, waitFor, type RunningDaemon } from '../../support/daemon.js';
import { numberedBatch } from '../../support/otlp-requests.js';

interface ExporterStats {
  exported?: number;
  failed?: number;
  retries?: number;
  dead_lettered?: number;
}

async function exporterStats(daemon: RunningDaemon): Promise<ExporterStats> {
  return ((await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: ExporterStats } }).exporters.clickhouse;
}

async function send(daemon: RunningDaemon, first: number, count: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
    method: 'POST',
    body: encodeLogsRequest(numberedBatch(first, count)),
    headers: { 'Content-Type': 'application/x-protobuf' },
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`request refused: ${res.status}`);
}

function deadLetters(dir: string): Array<{ meta: Record<string, unknown>; sql: string }> {
  const sub = join(dir, 'clickhouse');
  return readdirSync(sub)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const meta = JSON.parse(readFileSync(join(sub, f), 'utf8')) as Record<string, unknown> & { files: string[] };
      return { meta, sql: readFileSync(join(sub, meta.files[0]!), 'utf8') };
    });
}

const BATCH = 'send_batch_size: 1000\n    timeout: 50ms';

t.test('a schema error from ClickHouse is permanent: the batch goes to the dead-letter directory with the reason, and can be applied by hand', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('dl-front') });
  t.teardown(() => front.close());
  const ddl = (await front.query('SELECT 1')) && readFileSync(new URL('../../../../src/exporters/clickhouse/sql/otel_logs.sql', import.meta.url), 'utf8');
  const render = (eventName: string) =>
    ddl
      .split('\n')
      .filter((l) => !l.startsWith('--'))
      .join('\n')
      .replace(/\{database\}/g, 'otel')
      .replace(/\{table\}/g, 'otel_logs')
      .replace(/\{on_cluster\}|\{ttl\}/g, '')
      .replace('{engine}', 'MergeTree()')
      .replace('`EventName` String', `\`EventName\` ${eventName}`);
  await front.query('CREATE DATABASE otel');
  // A table someone made by hand with the wrong type for EventName.
  await front.query(render('UInt64'));
  const deadLetterDir = tempDir('dl');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: front.url, batch: BATCH, exporterExtra: `    create_schema: false\n    dead_letter: { path: ${deadLetterDir} }` }));
  t.teardown(() => daemon.stop());
  await send(daemon, 0, 30);
  t.ok(await waitFor(async () => (await exporterStats(daemon)).dead_lettered === 30), 'the 30 records are dead-lettered');
  const s = await exporterStats(daemon);
  t.equal(s.retries ?? 0, 0, 'without retrying');
  t.equal(s.failed, 30, 'and counted as failed');
  const [entry, ...more] = deadLetters(deadLetterDir);
  t.equal(more.length, 0, 'one entry for the one batch');
  t.match(entry!.meta, { exporter: 'clickhouse', reason: 'permanent', records: 30, attempts: 1 });
  t.match(
    String(entry!.meta.error),
    /^ClickHouse refused 30 of 30 log records \(the others were stored\): inserting \d+ log records: .*Cannot parse UInt64.*\([A-Z_]+, code \d+\)/s,
    'the error says why',
  );
  t.match(
    entry!.sql,
    /^-- 30 log records refused: [^\n]*Cannot parse UInt64[^\n]*\nINSERT INTO otel\.otel_logs \([^)]*\) SETTINGS insert_deduplication_token = /,
    'the rows are kept as one INSERT, with a deduplication token of its own',
  );
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_exporter_dead_letter_log_records_total\{exporter="clickhouse",reason="permanent"\} 30\b/, '/metrics counts them');

  // Fix the table, apply the dead-lettered statement: the records arrive.
  await front.query('DROP TABLE otel.otel_logs');
  await front.query(render('String'));
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  for (const statement of entry!.sql.split(';\n').filter((q) => q.trim())) {
    await client.command({ query: statement, clickhouse_settings: { max_query_size: String(statement.length * 3) } });
  }
  t.equal((await front.query("SELECT count(), uniqExact(LogAttributes['seq']) FROM otel.otel_logs")).trim(), '30\t30', 'applied by hand, the dead-lettered batch is stored');
});

t.test('TOO_MANY_PARTS, MEMORY_LIMIT_EXCEEDED and NOT_ENOUGH_SPACE are retried; a type error is not', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('dl-classify') });
  t.teardown(() => front.close());
  const deadLetterDir = tempDir('dl-classify-dir');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: front.url, batch: BATCH, exporterExtra: `    dead_letter: { path: ${deadLetterDir} }` }));
  t.teardown(() => daemon.stop());
  // Memory first: from the third attempt on, an insert refused for its size is cut in halves instead.
  front.inject({ kind: 'exception', code: 241, name: 'MEMORY_LIMIT_EXCEEDED', count: 2, match: /INSERT INTO otel\.otel_logs/ });
  front.inject({ kind: 'exception', code: 252, name: 'TOO_MANY_PARTS', count: 2, match: /INSERT INTO otel\.otel_logs/ });
  // A server whose disk is full for now: the operator frees space, nothing is wrong with the data.
  front.inject({ kind: 'exception', code: 243, name: 'NOT_ENOUGH_SPACE', count: 1, match: /INSERT INTO otel\.otel_logs/ });
  await send(daemon, 0, 40);
  t.ok(await waitFor(async () => (await exporterStats(daemon)).exported === 40), 'stored after the retryable errors');
  t.equal((await exporterStats(daemon)).retries, 5, 'five retries: two of each, and one for NOT_ENOUGH_SPACE');
  t.equal((await front.query('SELECT count() FROM otel.otel_logs')).trim(), '40', 'once');

  // Refused whenever the insert holds record 105: the batch is cut until that record is alone.
  front.inject({ kind: 'exception', code: 53, name: 'TYPE_MISMATCH', count: 1_000, match: /INSERT INTO otel\.otel_logs[\s\S]*"request 105 served/ });
  await send(daemon, 100, 10);
  t.ok(await waitFor(async () => (await exporterStats(daemon)).dead_lettered === 1), 'the record ClickHouse refuses is dead-lettered');
  t.equal((await exporterStats(daemon)).retries, 5, 'not retried');
  t.equal((await exporterStats(daemon)).exported, 49, 'its 9 neighbours are stored');
  t.equal(
    (
      await front.query("SELECT groupArray(LogAttributes['seq']) FROM (SELECT LogAttributes FROM otel.otel_logs WHERE toUInt32(LogAttributes['seq']) >= 100 ORDER BY toUInt32(LogAttributes['seq']))")
    ).trim(),
    "['100','101','102','103','104','106','107','108','109']",
  );
  t.match(deadLetters(deadLetterDir)[0]!.meta, { reason: 'permanent', records: 1, error: /^ClickHouse refused 1 of 10 log records .*TYPE_MISMATCH/ });
});

t.test('a batch whose retries run out (max_elapsed_time) is dead-lettered as retries_exhausted', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('dl-exhausted') });
  t.teardown(() => front.close());
  const deadLetterDir = tempDir('dl-exhausted-dir');
  const daemon = await startTestDaemon(
    pipelineYaml({ endpoint: front.url, batch: BATCH, exporterExtra: `    dead_letter: { path: ${deadLetterDir} }` }).replace(
      'max_interval: 500ms',
      'max_interval: 100ms\n      max_elapsed_time: 600ms',
    ),
  );
  t.teardown(() => daemon.stop());
  front.inject({ kind: 'status503', count: 1_000, match: /INSERT INTO otel\.otel_logs/ });
  await send(daemon, 0, 20);
  t.ok(await waitFor(async () => (await exporterStats(daemon)).dead_lettered === 20), 'dead-lettered once the retries ran out');
  const s = await exporterStats(daemon);
  t.ok((s.retries ?? 0) >= 2, `after ${s.retries} retries`);
  const [entry] = deadLetters(deadLetterDir);
  t.match(entry!.meta, { reason: 'retries_exhausted', records: 20 });
  t.ok(Number(entry!.meta.attempts) >= 3);
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_exporter_dead_letter_log_records_total\{exporter="clickhouse",reason="retries_exhausted"\} 20\b/);
});

t.test('bad credentials and a dropped table or database are retried, not dead-lettered; the schema is created again', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('dl-recover') });
  t.teardown(() => front.close());
  const deadLetterDir = tempDir('dl-recover-dir');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: front.url, batch: BATCH, exporterExtra: `    dead_letter: { path: ${deadLetterDir} }` }));
  t.teardown(() => daemon.stop());
  await send(daemon, 0, 10);
  t.ok(await waitFor(async () => (await exporterStats(daemon)).exported === 10));

  // A Secret rotated on the server before it reached this pod, then a missing grant.
  front.inject({ kind: 'exception', code: 516, name: 'AUTHENTICATION_FAILED', count: 2, match: /INSERT INTO otel\.otel_logs/ });
  front.inject({ kind: 'exception', code: 497, name: 'ACCESS_DENIED', count: 1, match: /INSERT INTO otel\.otel_logs/ });
  await send(daemon, 100, 10);
  t.ok(await waitFor(async () => (await exporterStats(daemon)).exported === 20), 'stored once the credentials work');
  t.equal((await exporterStats(daemon)).retries, 3, 'after three retries');

  await front.query('DROP TABLE otel.otel_logs');
  await send(daemon, 200, 10);
  t.ok(await waitFor(async () => (await exporterStats(daemon)).exported === 30), 'a dropped table is created again and the batch stored');
  t.equal((await front.query('SELECT count() FROM otel.otel_logs')).trim(), '10');

  await front.query('DROP DATABASE otel');
  await send(daemon, 300, 10);
  t.ok(await waitFor(async () => (await exporterStats(daemon)).exported === 40), 'so is a dropped database');
  t.equal((await front.query("SELECT count(), min(LogAttributes['seq']) FROM otel.otel_logs")).trim(), '10\t300');
  t.equal((await exporterStats(daemon)).dead_lettered ?? 0, 0, 'nothing was dead-lettered');
  t.same(readdirSync(deadLetterDir), [], 'the dead-letter directory is empty');
});
