import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { loadConfig } from '../../src/daemon.js';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { ConfigError } from '../../src/config/errors.js';
import { ClickHouseHttpFront } from '../support/clickhouse-http-front.js';
import { startTestDaemon, tempDir, waitFor, type RunningDaemon } from '../support/daemon.js';
import { numberedBatch } from '../support/otlp-requests.js';
import { freePort } from '../support/ports.js';

function yaml(o: { endpoint: string; queue: string; batch?: string; shutdown?: string }): string {
  return `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
processors:
  batch: { ${o.batch ?? 'send_batch_size: 100, timeout: 20ms'} }
exporters:
  clickhouse:
    endpoint: ${o.endpoint}
    sending_queue: { ${o.queue} }
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
  shutdown_timeout: ${o.shutdown ?? '30s'}
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;
}

async function post(daemon: RunningDaemon, first: number, count: number): Promise<Response> {
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
    method: 'POST',
    body: encodeLogsRequest(numberedBatch(first, count)),
    headers: { 'Content-Type': 'application/x-protobuf' },
  });
  await res.arrayBuffer();
  return res;
}

function issuesOf(queue: string): string[] {
  try {
    loadConfig({ text: yaml({ endpoint: 'embedded://./x', queue }) }, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

t.test('sending_queue config: sizes, fsync policy, storage', async (t) => {
  t.same(issuesOf('storage: /var/lib/otelhouse/queue, max_bytes: 1GiB, fsync: always, segment_size: 16MiB'), []);
  t.same(issuesOf('enabled: false, storage: ./q'), ['exporters.clickhouse.sending_queue.storage: a persistent queue needs enabled: true']);
  t.same(issuesOf('max_bytes: lots'), ['exporters.clickhouse.sending_queue.max_bytes: not a size: "lots" (use e.g. 4096, 64MiB, 1GiB)']);
  t.same(issuesOf('fsync: sometimes'), ['exporters.clickhouse.sending_queue.fsync: Invalid option: expected one of "always"|"interval"|"never"']);
  t.same(issuesOf('segment_size: 100'), ['exporters.clickhouse.sending_queue.segment_size: must be at least 4096 bytes']);
  t.same(issuesOf('fsync_interval: 0'), ['exporters.clickhouse.sending_queue.fsync_interval: must be greater than 0 with fsync: interval']);
  const config = loadConfig({ text: yaml({ endpoint: 'embedded://./x', queue: 'storage: ./q, max_bytes: 512MiB' }) }, {});
  t.match(config.exporters.get('clickhouse')!.config, { sending_queue: { max_bytes: 512 * 1024 * 1024, fsync: 'interval', fsync_interval: 1000, segment_size: 64 * 1024 * 1024 } });
});

t.test('max_bytes bounds an in-memory queue: receivers get back-pressure once it holds that much', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('mb-front') });
  t.teardown(() => front.close());
  front.inject({ kind: 'delay', count: 1000, delayMs: 3000, match: /INSERT/ });
  const daemon = await startTestDaemon(
    yaml({ endpoint: front.url, queue: 'queue_size: 1000000, max_bytes: 20000, num_consumers: 1', batch: 'send_batch_size: 100, timeout: 20ms, max_pending_records: 100', shutdown: '1s' }),
  );
  t.teardown(() => daemon.stop());
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) statuses.push((await post(daemon, i * 100, 100)).status);
  t.ok(statuses.includes(429), `refused once ${20000} bytes are queued (${statuses.filter((s) => s === 429).length} of 30 refused)`);
  const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { queue_size: number; queue_bytes: number } } };
  t.ok(stats.exporters.clickhouse.queue_size < 30 * 100, `${stats.exporters.clickhouse.queue_size} records, ${stats.exporters.clickhouse.queue_bytes} bytes queued`);
  t.ok(stats.exporters.clickhouse.queue_bytes >= 20000, 'the queue is at its byte limit');
});

t.test('shutdown deadline: what is not exported stays in the disk queue and is stored once after the next start', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('sd-front') });
  t.teardown(() => front.close());
  const queueDir = tempDir('sd-queue');
  // Every insert is held 4 s by ClickHouse: nothing is exported before the 1 s shutdown deadline.
  front.inject({ kind: 'delay', count: 1000, delayMs: 4000, match: /INSERT/ });
  const config = yaml({
    endpoint: front.url,
    queue: `storage: ${queueDir}, queue_size: 300, num_consumers: 1`,
    // Acknowledged from memory (not the default with a disk queue): what the batch processor holds must reach the disk queue at shutdown.
    batch: 'send_batch_size: 100, timeout: 20ms, max_pending_records: 5000, wait_for_flush: false',
    shutdown: '1s',
  });
  const first = await startTestDaemon(config);
  for (let i = 0; i < 20; i++) t.equal((await post(first, i * 50, 50)).status, 200, `request ${i} acknowledged`);
  await first.stop();
  const stats = first.service.telemetry.stats() as { exporters: { clickhouse: { failed?: number; exported?: number } }; processors: { batch: { dropped?: number } } };
  t.equal(stats.exporters.clickhouse.failed ?? 0, 0, 'the exporter dropped nothing');
  t.equal(stats.exporters.clickhouse.exported ?? 0, 0, 'and exported nothing before the deadline');
  t.equal(stats.processors.batch.dropped ?? 0, 0, 'the batch processor dropped nothing: at shutdown the queue takes what it flushes, past queue_size');
  t.ok(
    readdirSync(join(queueDir, 'clickhouse')).some((f) => f.endsWith('.seg')),
    'the records are in the disk queue',
  );

  // The insert in flight at the deadline still lands (its answer went nowhere): the replay of that
  // batch must be deduplicated.
  t.ok(await waitFor(async () => (await front.query('SELECT count() FROM otel.otel_logs')).trim() !== '0', 15_000), 'the insert in flight at the deadline was stored anyway');
  front.clearFaults();
  const second = await startTestDaemon(config);
  t.teardown(() => second.stop());
  t.ok(
    await waitFor(async () => {
      const s = (await (await fetch(`http://127.0.0.1:${second.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { queue_size: number } } };
      return s.exporters.clickhouse.queue_size === 0;
    }),
    'the next start replays the queue',
  );
  t.equal((await front.query("SELECT count(), uniqExact(LogAttributes['seq']) FROM otel.otel_logs")).trim(), '1000\t1000', 'all 1,000 acknowledged records, once each');
  t.equal((await front.query('SELECT sum(Count) FROM otel.log_templates_hourly')).trim(), '1000', 'and the hourly counts the materialised view keeps count them once');
});

t.test('one queue per exporter instance: two exporters under one storage directory keep their own', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('two-front') });
  t.teardown(() => front.close());
  const storage = tempDir('two-queues');
  const daemon = await startTestDaemon(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  clickhouse:
    endpoint: ${front.url}
    sending_queue: { storage: ${storage} }
  clickhouse/copy:
    endpoint: ${front.url}
    logs_table_name: otel_logs_copy
    sending_queue: { storage: ${storage} }
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [clickhouse, clickhouse/copy] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
  t.teardown(() => daemon.stop());
  t.same(readdirSync(storage).sort(), ['clickhouse', 'clickhouse_copy'], 'a directory each, named after the exporter');
  t.equal((await post(daemon, 0, 25)).status, 200);
  t.ok(
    await waitFor(async () => (await front.query('SELECT (SELECT count() FROM otel.otel_logs), (SELECT count() FROM otel.otel_logs_copy)')).trim() === '25\t25'),
    'each exporter stores the records from its own queue',
  );
});

t.test('sending_queue disabled, ClickHouse unreachable, retries unlimited: shutdown still ends at its deadline', async (t) => {
  for (const waitForFlush of [false, true]) {
    const daemon = await startTestDaemon(
      yaml({
        endpoint: `http://127.0.0.1:${await freePort()}`,
        queue: 'enabled: false',
        batch: `send_batch_size: 100, timeout: 20ms, wait_for_flush: ${waitForFlush}`,
        shutdown: '1s',
      }).replace('max_interval: 200ms }', 'max_interval: 30s, max_elapsed_time: 0 }'),
    );
    const request = post(daemon, 0, 10).then(
      (res) => `answered ${res.status}`,
      () => 'connection failed',
    );
    // Let the export start failing and back off.
    await new Promise((r) => setTimeout(r, 300));
    const guard = new AbortController();
    const stopped = await Promise.race([daemon.stop().then(() => 'stopped'), sleep(20_000, 'still stopping', { signal: guard.signal }).catch(() => '')]);
    guard.abort();
    t.equal(stopped, 'stopped', `wait_for_flush: ${waitForFlush}: the daemon stops (deadline 1 s)`);
    const answer = await request;
    const stats = daemon.service.telemetry.stats() as { processors: { batch: { dropped?: number } } };
    if (waitForFlush) t.not(answer, 'answered 200', `the request was not acknowledged (${answer}): its client sends it again`);
    else t.equal(stats.processors.batch.dropped, 10, 'the acknowledged records the exporter could not send are counted as dropped');
  }
});
