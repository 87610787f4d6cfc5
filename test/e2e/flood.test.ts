import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { ClickHouseHttpFront } from '../support/clickhouse-http-front.js';
import { startDaemonProcess } from '../support/cli.js';
import { tempDir, waitFor } from '../support/daemon.js';
import { childDaemonConfig, LONG_FAULTS, NumberedLoad, peakRssMiB, storedCounts } from '../support/load.js';
import { numberedBatch } from '../support/otlp-requests.js';
import { freePort } from '../support/ports.js';

const LIMIT_MIB = 250;
/** Growth allowed past limit_mib between two checks of the limiter (check_interval 100ms). */
const MARGIN_MIB = 50;
/** How long the flood goes on once the limiter first refused. */
const REFUSING_MS = LONG_FAULTS ? 60_000 : 3_000;

/**
 * Clients send faster than the exporter can write (each insert is held 1 s by the HTTP front) to a
 * daemon whose in-memory sending queue is practically unbounded: the memory limiter alone keeps
 * the process within its limit, by refusing requests, and nothing it acknowledged is lost.
 */
t.test('a flood: resident memory stays under limit_mib plus a margin, clients get back-pressure, nothing acknowledged is lost', async (t) => {
  const dir = tempDir('flood');
  const front = await ClickHouseHttpFront.start({ path: join(dir, 'clickhouse'), port: await freePort() });
  t.teardown(() => front.close());
  front.inject({ kind: 'delay', count: 1_000_000, delayMs: 1000, match: /INSERT/ });
  const { configFile, httpPort, telemetryPort } = await childDaemonConfig(
    dir,
    `
processors:
  memory_limiter: { limit_mib: ${LIMIT_MIB}, spike_limit_mib: 50, check_interval: 100ms }
  batch: { send_batch_size: 5000, timeout: 100ms }
exporters:
  clickhouse:
    endpoint: ${front.url}
    sending_queue: { queue_size: 100000000, num_consumers: 2 }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [memory_limiter, batch], exporters: [clickhouse] }
`,
  );
  const daemon = await startDaemonProcess(configFile);
  t.teardown(() => daemon.child.kill('SIGKILL'));
  const stats = async () =>
    (await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as {
      exporters: { clickhouse: { queue_size?: number } };
      processors: { memory_limiter: { refused?: number } };
    };

  const load = new NumberedLoad(`http://127.0.0.1:${httpPort}/v1/logs`, {
    senders: 12,
    recordsPerRequest: 500,
    total: Number.MAX_SAFE_INTEGER,
    refusedPauseMs: 20,
    // Larger records fill memory with fewer rows to insert afterwards.
    body: (first, n) => encodeLogsRequest(numberedBatch(first, n, 'flood', 1000)),
  }).start();
  t.ok(await waitFor(async () => ((await stats()).processors.memory_limiter.refused ?? 0) > 0, 120_000), 'the memory limiter starts refusing');
  await new Promise((r) => setTimeout(r, REFUSING_MS));
  await load.stop();
  const peak = peakRssMiB(daemon.child.pid!);
  const s = await stats();
  t.ok((load.refusals.get(429) ?? 0) > 0, `clients received back-pressure: ${load.refusals.get(429) ?? 0} requests answered 429`);
  t.ok(load.retryAfterSeen, 'with Retry-After');
  t.ok(peak < LIMIT_MIB + MARGIN_MIB, `peak resident memory ${Math.round(peak)} MiB < limit_mib ${LIMIT_MIB} + ${MARGIN_MIB} MiB`);
  t.comment(`${load.ackedRecords} logs acknowledged, ${s.exporters.clickhouse.queue_size} still queued when the flood ended`);

  front.clearFaults();
  t.ok(await waitFor(async () => (await stats()).exporters.clickhouse.queue_size === 0, 180_000), 'the queue drains once ClickHouse keeps up');
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  const counts = await storedCounts(client, load);
  t.equal(counts.ackedRows, load.ackedRecords, 'every acknowledged log is stored');
  t.equal(counts.ackedDistinct, load.ackedRecords, 'once');
  t.equal(counts.rows, counts.distinct, 'nothing is stored twice');
  t.equal(load.abandoned.length, 0, 'every request was answered');
});
