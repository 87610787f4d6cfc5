import { createClient } from '@clickhouse/client';
import t from 'tap';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { SELECT_ROWS, emitWithSdk, type ExpectedRow } from '../../support/sdk.js';

/**
 * The http:// path: the exporter talks to a ClickHouse HTTP interface (a test front executing on
 * chDB, since no ClickHouse server runs here) through @clickhouse/client, with failures injected.
 */
t.test('SDK → daemon → ClickHouse over HTTP, through 503s, dropped connections and delays', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('front') });
  t.teardown(() => front.close());
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: front.url, batch: 'send_batch_size: 40\n    timeout: 50ms', exporterExtra: '    timeout: 2s' }));
  t.teardown(() => daemon.stop());
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());

  const clean = await emitWithSdk('http/protobuf', daemon, 60);
  t.ok(
    await waitFor(async () => {
      const [r] = await queryRows<{ n: string }>(client, `SELECT toString(count()) AS n FROM otel.otel_logs`);
      return Number(r!.n) === 60;
    }),
    'records arrive over HTTP',
  );
  t.same(await queryRows<ExpectedRow>(client, SELECT_ROWS('otel', clean[0]!.ServiceName)), clean, 'rows match field by field');

  front.inject({ kind: 'status503', count: 2, match: /INSERT/ });
  front.inject({ kind: 'drop', count: 1, match: /INSERT/, afterExecute: true });
  front.inject({ kind: 'status503', count: 1, match: /INSERT/, afterExecute: true });
  front.inject({ kind: 'delay', count: 2, delayMs: 3000, match: /INSERT/ });
  const faulty = await emitWithSdk('grpc', daemon, 200);
  t.ok(
    await waitFor(async () => {
      const s = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { exported?: number } } };
      return (s.exporters.clickhouse.exported ?? 0) >= 260;
    }, 60_000),
    'every batch is eventually exported',
  );
  const rows = await queryRows<ExpectedRow>(client, SELECT_ROWS('otel', faulty[0]!.ServiceName));
  t.equal(rows.length, 200, 'no record lost and none stored twice, though two inserts were stored before their answer was lost');
  t.same(rows, faulty, 'rows match field by field');
  const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { retries: number; failed?: number } } };
  t.ok(stats.exporters.clickhouse.retries >= 5, `the exporter retried (${stats.exporters.clickhouse.retries} retries)`);
  t.equal(stats.exporters.clickhouse.failed ?? 0, 0, 'nothing given up');
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_exporter_retries_total\{exporter="clickhouse"\} [1-9]/);
});

t.test('a permanent error (missing table, create_schema off) is not retried', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('front-perm') });
  t.teardown(() => front.close());
  await front.query('CREATE DATABASE IF NOT EXISTS otel');
  await front.query('CREATE TABLE otel.otel_logs (x UInt8) ENGINE = MergeTree ORDER BY x');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: front.url, exporterExtra: '    create_schema: false' }));
  t.teardown(() => daemon.stop());
  await emitWithSdk('http/json', daemon, 10);
  t.ok(
    await waitFor(async () => {
      const s = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { failed?: number } } };
      return (s.exporters.clickhouse.failed ?? 0) === 10;
    }),
    'the batch is counted as failed',
  );
  const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { retries?: number } } };
  t.equal(stats.exporters.clickhouse.retries ?? 0, 0, 'and was not retried');
  const health = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/health`)).json()) as { status: string; components: { clickhouse: { detail: string } } };
  t.equal(health.status, 'degraded');
  t.match(health.components.clickhouse.detail, /No such column|NO_SUCH_COLUMN|There's no column|Code: 16/i, '/health says why');
});

t.test('ClickHouse down at start: the daemon starts, reports it, and stores once it is back', async (t) => {
  const port = await (await import('../../support/ports.js')).freePort();
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: `http://127.0.0.1:${port}` }));
  t.teardown(() => daemon.stop());
  await emitWithSdk('http/protobuf', daemon, 25);
  t.ok(
    await waitFor(async () => {
      const h = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/health`)).json()) as { clickhouse_connected: boolean; status: string };
      return h.clickhouse_connected === false && h.status === 'degraded';
    }),
    '/health shows ClickHouse unreachable',
  );
  const front = await ClickHouseHttpFront.start({ path: tempDir('front-late'), port });
  t.teardown(() => front.close());
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  t.ok(
    await waitFor(async () => {
      try {
        const [r] = await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs');
        return Number(r!.n) === 25;
      } catch {
        return false;
      }
    }),
    'the queued records are stored when ClickHouse comes up',
  );
  const h = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/health`)).json()) as { clickhouse_connected: boolean };
  t.equal(h.clickhouse_connected, true);
});
