import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { clickhouseConfigSchema } from '../../src/exporters/clickhouse/config.js';
import { classifyClickHouseError, isMissingSchemaError, isRowDependent } from '../../src/exporters/clickhouse/error-classifier.js';
import { schemaStatements } from '../../src/exporters/clickhouse/schema.js';
import { PermanentExportError, RetryableExportError } from '../../src/pipeline/errors.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor, type RunningDaemon } from '../support/daemon.js';

/*
 * Valid traffic that ClickHouse refuses for its shape or for some of its values, through a real
 * daemon into embedded ClickHouse with the shipped retry policy (retry for ever): nothing may
 * block the batches behind it, and every record is stored or dead-lettered with the reason.
 */

const path = tempDir('poison');
const client = embeddedClient(path);
t.teardown(() => client.close());

const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
const DAY_NS = 86_400_000_000_000n;
const NOW_NS = BigInt(Date.now()) * 1_000_000n;

interface JsonRecord {
  timeUnixNano?: string;
  body: { stringValue: string };
  attributes: ReturnType<typeof kv>[];
}

function record(seq: number, body: string, time = NOW_NS): JsonRecord {
  return { timeUnixNano: String(time), body: { stringValue: body }, attributes: [kv('seq', String(seq))] };
}

function request(resources: { attrs: ReturnType<typeof kv>[]; records: JsonRecord[] }[]): string {
  return JSON.stringify({ resourceLogs: resources.map((r) => ({ resource: { attributes: r.attrs }, scopeLogs: [{ scope: { name: 'poison-test' }, logRecords: r.records }] })) });
}

async function post(daemon: RunningDaemon, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

async function count(db: string, where: string): Promise<number> {
  const [row] = await queryRows<{ n: string }>(client, `SELECT toString(count()) AS n FROM ${db}.otel_logs WHERE ${where}`);
  return Number(row!.n);
}

async function exporterStats(daemon: RunningDaemon): Promise<Record<string, number>> {
  const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: Record<string, Record<string, number>> };
  return stats.exporters.clickhouse!;
}

function deadLetters(deadLetterDir: string): { meta: Record<string, unknown>; sql: string }[] {
  const dir = join(deadLetterDir, 'clickhouse');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ meta: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>, sql: readFileSync(join(dir, f.replace(/\.json$/, '.sql')), 'utf8') }));
}

async function chdbError(query: string, settings: Record<string, string> = {}): Promise<unknown> {
  try {
    await client.command({ query, clickhouse_settings: settings });
  } catch (err) {
    return err;
  }
  throw new Error(`expected ClickHouse to refuse: ${query}`);
}

t.test('real chDB errors are classified by their code', async (t) => {
  await client.command({ query: 'CREATE DATABASE IF NOT EXISTS scratch' });
  await client.command({ query: 'CREATE TABLE scratch.t (a UInt32, d Date, CONSTRAINT small CHECK a < 100) ENGINE = MergeTree PARTITION BY d ORDER BY a' });
  const cases: { what: string; query: string; settings?: Record<string, string>; retryable: boolean; rowDependent: boolean; missing?: boolean; code: number }[] = [
    { what: 'a CONSTRAINT violated', query: 'INSERT INTO scratch.t SELECT 200, today()', retryable: false, rowDependent: true, code: 469 },
    { what: 'a value the type refuses', query: "INSERT INTO scratch.t SELECT toUInt32('x'), today()", retryable: false, rowDependent: true, code: 6 },
    { what: 'an unknown column (the statement, not the rows)', query: 'INSERT INTO scratch.t (a, nope) SELECT 1, 2', retryable: false, rowDependent: false, code: 16 },
    { what: 'an unknown table', query: 'INSERT INTO scratch.gone SELECT 1', retryable: true, rowDependent: false, missing: true, code: 60 },
    { what: 'an unknown database', query: 'INSERT INTO gone.t SELECT 1', retryable: true, rowDependent: false, missing: true, code: 81 },
    { what: 'too many partitions in one insert', query: 'INSERT INTO scratch.t SELECT number % 100, today() - number FROM numbers(101)', retryable: true, rowDependent: false, code: 252 },
    {
      what: 'the memory limit',
      query: 'INSERT INTO scratch.t SELECT number % 100, today() FROM numbers(1000000)',
      settings: { max_memory_usage: '1000' },
      retryable: true,
      rowDependent: false,
      code: 241,
    },
  ];
  for (const c of cases) {
    const err = await chdbError(c.query, c.settings);
    const classified = classifyClickHouseError(err, 'inserting');
    t.type(classified, c.retryable ? RetryableExportError : PermanentExportError, `${c.what}: ${c.retryable ? 'retryable' : 'permanent'}`);
    t.match(classified.message, new RegExp(`code ${c.code}\\)$`), `${c.what}: the message names code ${c.code}`);
    t.equal(
      isRowDependent(classified, c.retryable),
      c.code === 241 || c.rowDependent,
      `${c.what}: ${c.rowDependent || c.code === 241 ? 'a smaller insert may succeed' : 'a smaller insert fails the same way'}`,
    );
    t.equal(isMissingSchemaError(err), c.missing === true, `${c.what}: ${c.missing ? '' : 'not '}a missing table`);
  }
  // chDB keeps a call's settings for its session: lift the memory limit again.
  await client.command({ query: 'SELECT 1', clickhouse_settings: { max_memory_usage: '0' } });
});

/**
 * Both ways of batching: the batch processor hands the exporter whole batches, sending_queue.batch
 * (the default config's) encodes each request into the insert being filled.
 */
const SHAPES = [
  {
    name: 'batch processor',
    db: 'otel',
    processors: 'processors:\n  batch: { send_batch_size: 10000, send_batch_max_size: 20000, timeout: 300ms, wait_for_flush: true }',
    pipeline: '[batch]',
    queue: '',
  },
  { name: 'sending_queue.batch', db: 'otel_sqb', processors: '', pipeline: '[]', queue: ', batch: { min_size: 10000, max_size: 20000, flush_timeout: 300ms }' },
];

for (const shape of SHAPES)
  t.test(`the daemon (${shape.name}), with the shipped retry policy, against refusals for shape and for values`, async (t) => {
    const { db } = shape;
    const deadLetterDir = tempDir('poison-dl');
    // The schema as create_schema makes it, plus a CONSTRAINT: ClickHouse refuses some valid records for good.
    for (const query of schemaStatements(clickhouseConfigSchema.parse({ endpoint: `embedded://${path}`, database: db }))) await client.command({ query });
    await client.command({ query: `ALTER TABLE ${db}.otel_logs ADD CONSTRAINT no_poison CHECK position(Body, 'POISON') = 0` });
    const daemon = await startTestDaemon(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, max_request_body_size: 67108864 }
${shape.processors}
exporters:
  clickhouse:
    endpoint: "embedded://${path}"
    database: ${db}
    sending_queue: { storage: ${tempDir('poison-queue')}${shape.queue} }
    dead_letter: { path: ${deadLetterDir} }
    retry_on_failure: { initial_interval: 50ms, max_interval: 500ms, max_elapsed_time: 0 }
service:
  pipelines:
    logs: { receivers: [otlp], processors: ${shape.pipeline}, exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
    t.teardown(() => daemon.stop());
    const svc = (name: string) => [kv('service.name', name)];

    await t.test('records a CONSTRAINT refuses are dead-lettered with the code; their neighbours are stored', async (t) => {
      const records = Array.from({ length: 50 }, (_, i) => record(i, i === 10 || i === 37 ? `POISON record ${i}` : `good record ${i}`));
      t.equal((await post(daemon, request([{ attrs: svc('constraint'), records }]))).status, 200);
      t.ok(await waitFor(async () => (await exporterStats(daemon)).dead_lettered === 2), 'the two refused records are dead-lettered');
      t.equal(await count(db, "ServiceName = 'constraint'"), 48, 'the 48 others are stored');
      const [entry, ...more] = deadLetters(deadLetterDir);
      t.equal(more.length, 0, 'one entry for the batch');
      t.match(entry!.meta, { reason: 'permanent', records: 2, error: /^ClickHouse refused 2 of 50 log records \(the others were stored\): .*VIOLATED_CONSTRAINT, code 469/ });
      t.equal(entry!.sql.match(/^INSERT INTO/gm)?.length, 2, 'one statement per run of refused rows');

      await client.command({ query: `ALTER TABLE ${db}.otel_logs DROP CONSTRAINT no_poison` });
      const statements = entry!.sql.split(';\n').filter((q) => q.trim());
      for (let round = 0; round < 2; round++) {
        for (const query of statements) await client.command({ query, clickhouse_settings: { max_query_size: String(query.length * 3) } });
      }
      t.equal(await count(db, "ServiceName = 'constraint'"), 50, 'applied twice by hand once the cause is fixed: stored once');
      t.equal(await count(db, "ServiceName = 'constraint' AND Body LIKE 'POISON%'"), 2);
    });

    await t.test('a backfill of 101 days and one of 400 days, each in one request, are stored', async (t) => {
      for (const days of [101, 400]) {
        const records = Array.from({ length: days }, (_, i) => record(i, `backfill day ${i}`, NOW_NS - BigInt(i) * DAY_NS));
        t.equal((await post(daemon, request([{ attrs: svc(`backfill-${days}`), records }]))).status, 200);
      }
      t.ok(await waitFor(async () => (await count(db, "ServiceName LIKE 'backfill-%'")) === 501), 'every record stored');
      const [row] = await queryRows<{ d101: string; d400: string }>(
        client,
        `SELECT toString(uniqExactIf(toDate(Timestamp), ServiceName = 'backfill-101')) AS d101, toString(uniqExactIf(toDate(Timestamp), ServiceName = 'backfill-400')) AS d400 FROM ${db}.otel_logs`,
      );
      t.same(row, { d101: '101', d400: '400' }, 'on their own days');
      t.equal((await exporterStats(daemon)).dead_lettered, 2, 'nothing more dead-lettered');
    });

    await t.test('a gateway: 100 clients × 20 pod resources of 20 attributes, and one request of 5,000 resources', async (t) => {
      const pod = (c: number, p: number) => [kv('service.name', 'gateway'), ...Array.from({ length: 19 }, (_, k) => kv(`k8s.attr.${k}`, `client-${c}-pod-${p}-${k}`))];
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, c) => post(daemon, request(Array.from({ length: 20 }, (_, p) => ({ attrs: pod(c, p), records: [record(c * 20 + p, `pod log ${c}/${p}`)] }))))),
      );
      t.same(new Set(answers.map((a) => a.status)), new Set([200]), 'all 100 answered 200');
      const big = request(Array.from({ length: 5000 }, (_, p) => ({ attrs: pod(1000, p), records: [record(100_000 + p, `big request pod ${p}`)] })));
      t.equal((await post(daemon, big)).status, 200);
      t.ok(await waitFor(async () => (await count(db, "ServiceName = 'gateway'")) === 7000), 'all 7,000 stored');
      const [row] = await queryRows<{ n: string; pods: string }>(
        client,
        `SELECT toString(uniqExact(LogAttributes['seq'])) AS n, toString(uniqExact(ResourceAttributes['k8s.attr.0'])) AS pods FROM ${db}.otel_logs WHERE ServiceName = 'gateway'`,
      );
      t.same(row, { n: '7000', pods: '7000' }, 'each record once, with its own resource');
      t.equal((await exporterStats(daemon)).dead_lettered, 2, 'nothing more dead-lettered');
    });
  });
