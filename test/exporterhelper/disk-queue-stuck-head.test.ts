import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { ClickHouseHttpFront } from '../support/clickhouse-http-front.js';
import { startDaemonProcess } from '../support/cli.js';
import { tempDir, waitFor } from '../support/daemon.js';
import { childDaemonConfig, NumberedLoad, storedCounts } from '../support/load.js';
import { numberedBatch } from '../support/otlp-requests.js';

const RECORDS_PER_REQUEST = 50;
const LATER_BATCHES = 60;
const SEGMENT_SIZE = 64 * 1024;
const MARKER = 'stuck-head-marker';

/**
 * One batch is held by ClickHouse (the HTTP front answers its insert, and only its insert, with a
 * retryable MEMORY_LIMIT_EXCEEDED) while 60 later batches are exported; the daemon (a child
 * process with a disk queue of 64 KiB segments) is killed and started again, first under another
 * exporter id, then under its own with the fault gone.
 */
t.test('a held head batch: the disk stays bounded, a restart replays only that batch, every log is stored once', async (t) => {
  const dir = tempDir('stuck-head');
  const front = await ClickHouseHttpFront.start({ path: join(dir, 'clickhouse') });
  t.teardown(() => front.close());
  front.inject({ kind: 'exception', code: 241, name: 'MEMORY_LIMIT_EXCEEDED', count: Number.MAX_SAFE_INTEGER, match: new RegExp(MARKER) });
  const queueRoot = join(dir, 'queue');
  const config = (exporterId: string) =>
    childDaemonConfig(
      dir,
      `
processors:
  batch: { send_batch_size: ${RECORDS_PER_REQUEST}, timeout: 20ms, wait_for_flush: true }
exporters:
  ${exporterId}:
    endpoint: ${front.url}
    sending_queue: { storage: ${queueRoot}, segment_size: ${SEGMENT_SIZE}, num_consumers: 2 }
    retry_on_failure: { initial_interval: 20ms, max_interval: 100ms, max_elapsed_time: 0 }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [${exporterId}] }
`,
    );
  const { configFile, httpPort, telemetryPort } = await config('clickhouse');
  const stats = async () =>
    ((await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as { exporters: Record<string, { queue_size?: number; queue_bytes?: number; exported?: number }> }).exporters.clickhouse ??
    {};
  const queueDir = join(queueRoot, 'clickhouse');
  const segmentBytes = () => {
    try {
      return readdirSync(queueDir)
        .filter((f) => f.endsWith('.seg'))
        .reduce((n, f) => n + statSync(join(queueDir, f)).size, 0);
    } catch {
      return 0; // a segment deleted between listing and stat
    }
  };

  let daemon = await startDaemonProcess(configFile);
  t.teardown(() => daemon.child.kill('SIGKILL'));
  // One sender, so request 0 (the one with the marker) is queued first and the rest after it.
  const load = new NumberedLoad(`http://127.0.0.1:${httpPort}/v1/logs`, {
    senders: 1,
    recordsPerRequest: RECORDS_PER_REQUEST,
    total: (LATER_BATCHES + 1) * RECORDS_PER_REQUEST,
    body: (first, count) => {
      const batch = numberedBatch(first, count, 'loadgen', 800);
      if (first === 0) batch.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.body = `${MARKER}: this batch is held`;
      return encodeLogsRequest(batch);
    },
  });
  // The segment files against the queue's bound, 2 × live bytes + one segment (which can run over
  // by one write); live bytes are read from /stats just before and after, and a batch more allowed
  // for an append in between.
  let batchBytes = 0;
  let worst = -Infinity;
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const before = (await stats()).queue_bytes ?? 0;
      const used = segmentBytes();
      const after = (await stats()).queue_bytes ?? 0;
      batchBytes ||= before;
      peak = Math.max(peak, used);
      worst = Math.max(worst, used - (2 * Math.max(before, after) + SEGMENT_SIZE + 2 * batchBytes));
    }
  })();
  const started = Date.now();
  await load.start().finished();
  t.comment(`sent in ${Date.now() - started} ms`);
  t.equal(load.acked.length, LATER_BATCHES + 1, 'every request was acknowledged (queued)');
  t.ok(await waitFor(async () => (await stats()).exported === LATER_BATCHES * RECORDS_PER_REQUEST, 60_000, 20), 'the 60 later batches are exported');
  t.comment(`exported ${Date.now() - started} ms after the first request`);
  sampling = false;
  await sampler;
  const held = await stats();
  t.equal(held.queue_size, RECORDS_PER_REQUEST, 'the head batch is still queued, being retried');
  const written = (LATER_BATCHES + 1) * held.queue_bytes!;
  const bound = 2 * held.queue_bytes! + SEGMENT_SIZE + held.queue_bytes!;
  t.ok(worst <= 0, `while the head batch was held, the segment files (at most ${peak} bytes) stayed within 2 × live bytes + one segment (worst margin ${worst})`);
  t.ok(written > 4 * bound, `${written} bytes of batches went through the queue`);
  t.ok(segmentBytes() <= bound, `and the queue holds ${segmentBytes()} bytes once only the head is left (bound ${bound})`);

  daemon.child.kill('SIGKILL');
  await daemon.exited;
  front.clearFaults();

  // Started under another exporter id: the old directory is not used, and said so.
  const renamed = await config('clickhouse/main');
  daemon = await startDaemonProcess(renamed.configFile);
  const warning = daemon
    .logs()
    .split('\n')
    .find((l) => l.includes('no configured exporter uses'));
  t.ok(warning, 'a renamed exporter: its old queue directory is warned about');
  t.match(JSON.parse(warning ?? '{}'), { dir: queueDir, batches: 1, records: RECORDS_PER_REQUEST, msg: /Name the exporter clickhouse again/ });
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);

  const again = await config('clickhouse');
  daemon = await startDaemonProcess(again.configFile);
  const replay = daemon
    .logs()
    .split('\n')
    .find((l) => l.includes('replaying the disk queue'));
  t.match(JSON.parse(replay ?? '{}'), { batches: 1, records: RECORDS_PER_REQUEST }, 'after the kill, only the held batch replays');
  const againStats = async () =>
    ((await (await fetch(`http://127.0.0.1:${again.telemetryPort}/stats`)).json()) as { exporters: Record<string, { queue_size?: number; exported?: number }> }).exporters.clickhouse ?? {};
  t.ok(await waitFor(async () => (await againStats()).exported === RECORDS_PER_REQUEST, 30_000, 20), 'and is exported once the fault is gone');
  t.equal((await againStats()).queue_size, 0);
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);

  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  const counts = await storedCounts(client, load);
  const total = (LATER_BATCHES + 1) * RECORDS_PER_REQUEST;
  t.same(counts, { ackedRows: total, ackedDistinct: total, rows: total, distinct: total, unknown: 0 }, 'count() and uniqExact(seq) are both every log sent: each stored once');
  t.equal((await front.query(`SELECT count() FROM otel.otel_logs WHERE Body LIKE '${MARKER}%'`)).trim(), '1', 'the held record among them');
});
