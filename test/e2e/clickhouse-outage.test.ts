import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import t from 'tap';
import { ClickHouseHttpFront } from '../support/clickhouse-http-front.js';
import { startDaemonProcess } from '../support/cli.js';
import { tempDir, waitFor } from '../support/daemon.js';
import { childDaemonConfig, LONG_FAULTS, NumberedLoad, peakRssMiB, storedCounts } from '../support/load.js';
import { freePort } from '../support/ports.js';

const OUTAGE_MS = LONG_FAULTS ? 30_000 : 4_000;
const LIMIT_MIB = 300;
const QUEUE_RECORDS = 20_000;

/**
 * ClickHouse (the HTTP front, on chDB in this process) goes away in the middle of a load and
 * comes back; the daemon is a child process with a disk queue and a memory limiter.
 */
t.test(`ClickHouse away for ${OUTAGE_MS / 1000} s mid-load: back-pressure once the queue is full, nothing acknowledged lost or duplicated`, async (t) => {
  const dir = tempDir('outage');
  // Below the ephemeral port range: the exporter keeps connecting to it while nothing listens.
  const front = await ClickHouseHttpFront.start({ path: join(dir, 'clickhouse'), port: await freePort() });
  t.teardown(() => front.close());
  const { configFile, httpPort, telemetryPort } = await childDaemonConfig(
    dir,
    `
processors:
  memory_limiter: { limit_mib: ${LIMIT_MIB}, spike_limit_mib: 100, check_interval: 200ms }
  batch: { send_batch_size: 2000, timeout: 100ms, wait_for_flush: true }
exporters:
  clickhouse:
    endpoint: ${front.url}
    timeout: 5s
    sending_queue: { storage: ${join(dir, 'queue')}, queue_size: ${QUEUE_RECORDS}, num_consumers: 2 }
    retry_on_failure: { initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 0 }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [memory_limiter, batch], exporters: [clickhouse] }
`,
    // A short wait for room, so the outage outlasts it and refusals show.
    'wait_for_room: 500ms',
  );
  const daemon = await startDaemonProcess(configFile);
  t.teardown(() => daemon.child.kill('SIGKILL'));
  const stats = async () =>
    ((await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { queue_size?: number; exported?: number; retries?: number } } }).exporters.clickhouse;

  const load = new NumberedLoad(`http://127.0.0.1:${httpPort}/v1/logs`, { senders: 4, recordsPerRequest: 250, total: Number.MAX_SAFE_INTEGER, refusedPauseMs: 200 }).start();
  t.ok(await waitFor(async () => ((await stats()).exported ?? 0) >= 5000, 60_000), 'logs flow into ClickHouse');

  await front.goAway();
  const ackedAtOutage = load.acked.length;
  const refusedAtOutage = load.refusals.get(429) ?? 0;
  t.ok(await waitFor(async () => (load.refusals.get(429) ?? 0) > refusedAtOutage, OUTAGE_MS, 50), 'once the queue is full, requests are refused with 429');
  t.ok(((await stats()).queue_size ?? 0) >= QUEUE_RECORDS - 2000, 'the queue filled up');
  t.ok(load.retryAfterSeen, 'refusals carry Retry-After');
  await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - 1000)));
  const duringOutage = load.acked.length - ackedAtOutage;
  t.ok((await stats()).retries! > 0, 'the exporter kept retrying');
  t.ok(duringOutage > 0, 'requests were acknowledged during the outage, into the disk queue');
  await front.comeBack();
  t.comment(`${duringOutage} requests acknowledged during the outage (into the queue), ${(load.refusals.get(429) ?? 0) - refusedAtOutage} refused`);

  const ackedAtReturn = load.acked.length;
  t.ok(await waitFor(async () => load.acked.length >= ackedAtReturn + 20, 60_000), 'requests are accepted again after ClickHouse returns');
  await load.stop();
  t.ok(await waitFor(async () => (await stats()).queue_size === 0, 120_000), 'the queue drains');
  const peak = peakRssMiB(daemon.child.pid!);
  t.ok(peak < LIMIT_MIB, `the daemon's peak resident memory (${Math.round(peak)} MiB) stayed under limit_mib (${LIMIT_MIB})`);
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);

  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  const counts = await storedCounts(client, load);
  t.ok(load.ackedRecords > 0, `${load.ackedRecords} logs acknowledged`);
  t.equal(counts.ackedRows, load.ackedRecords, 'every acknowledged log is stored');
  t.equal(counts.ackedDistinct, load.ackedRecords, 'once');
  t.equal(counts.rows, counts.distinct, 'nothing is stored twice');
  t.equal(counts.unknown, 0);
  t.equal(load.abandoned.length, 0, 'no request was left without an answer');
});
