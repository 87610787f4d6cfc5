import { join } from 'node:path';
import t from 'tap';
import { startDaemonProcess } from '../support/cli.js';
import { embeddedClient, tempDir, waitFor } from '../support/daemon.js';
import { childDaemonConfig, LONG_FAULTS, NumberedLoad, storedCounts } from '../support/load.js';

const KILLS = LONG_FAULTS ? 15 : 5;
const SENDERS = LONG_FAULTS ? 8 : 4;
const RECORDS_PER_REQUEST = 250;

/**
 * The daemon (a child process, embedded ClickHouse, a disk queue) takes numbered logs over OTLP
 * and is killed with SIGKILL at random moments, restarted each time; at the end the store holds
 * every acknowledged log exactly once. Two ways of batching answer a request once its batch is on
 * disk: a batch processor with wait_for_flush, and the default config's sending_queue.batch, whose
 * rows are encoded as requests arrive and written to the queue when the insert is full.
 */
const SHAPES: Array<{ name: string; pipeline: (dir: string, store: string) => string }> = [
  {
    name: 'batch processor with wait_for_flush',
    pipeline: (dir, store) => `
processors:
  batch: { send_batch_size: 1000, timeout: 100ms, wait_for_flush: true }
exporters:
  clickhouse:
    endpoint: embedded://${store}
    sending_queue: { storage: ${join(dir, 'queue')}, queue_size: 20000, num_consumers: 2 }
    retry_on_failure: { initial_interval: 50ms, max_interval: 500ms, max_elapsed_time: 0 }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
`,
  },
  {
    name: 'sending_queue.batch, as the default config',
    pipeline: (dir, store) => `
processors:
  templates: {}
exporters:
  clickhouse:
    endpoint: embedded://${store}
    sending_queue:
      storage: ${join(dir, 'queue')}
      queue_size: 20000
      num_consumers: 2
      batch: { min_size: 1000, max_size: 2000, flush_timeout: 100ms }
    retry_on_failure: { initial_interval: 50ms, max_interval: 500ms, max_elapsed_time: 0 }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [templates], exporters: [clickhouse] }
`,
  },
];

for (const shape of SHAPES)
  t.test(`kill -9 ${KILLS} times under load (${shape.name}): every acknowledged log is stored exactly once`, async (t) => {
    const dir = tempDir('kill9');
    const store = join(dir, 'store');
    const { configFile, httpPort, telemetryPort } = await childDaemonConfig(dir, shape.pipeline(dir, store));
    const seed = Math.floor(Math.random() * 2 ** 31);
    let state = seed;
    const random = () => (state = (Math.imul(state, 48271) >>> 0) % 2147483647) / 2147483647;
    t.comment(`kill timing seed ${seed}`);

    const load = new NumberedLoad(`http://127.0.0.1:${httpPort}/v1/logs`, { senders: SENDERS, recordsPerRequest: RECORDS_PER_REQUEST, total: Number.MAX_SAFE_INTEGER });
    let daemon = await startDaemonProcess(configFile);
    load.start();
    let replays = 0;
    for (let kill = 1; kill <= KILLS; kill++) {
      const ackedBefore = load.acked.length;
      // Anywhere from the replay just after a start to well into steady load.
      await new Promise((r) => setTimeout(r, 50 + random() * 1500));
      daemon.child.kill('SIGKILL');
      const code = await daemon.exited;
      t.comment(`kill ${kill}: exit ${code}, ${load.acked.length - ackedBefore} requests acknowledged since the last start`);
      daemon = await startDaemonProcess(configFile);
      if (/replaying the disk queue/.test(daemon.logs())) replays++;
    }
    const ackedAtLastStart = load.acked.length;
    t.ok(await waitFor(async () => load.acked.length >= ackedAtLastStart + 10, 60_000), 'the restarted daemon keeps taking data');
    await load.stop();

    const stats = async () => ((await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { queue_size?: number } } }).exporters.clickhouse;
    t.ok(await waitFor(async () => (await stats()).queue_size === 0, 120_000), 'the queue drains');
    daemon.child.kill('SIGTERM');
    t.equal(await daemon.exited, 0, 'a clean stop at the end');
    t.comment(`${load.acked.length} requests acknowledged, ${load.abandoned.length} abandoned when the daemon died under them, ${replays} starts replayed queued data`);

    const client = embeddedClient(store);
    t.teardown(() => client.close());
    const counts = await storedCounts(client, load);
    const acked = load.ackedRecords;
    t.ok(acked > 0, `${acked} logs acknowledged`);
    t.equal(counts.ackedRows, acked, 'count() of the acknowledged ids equals N_acked');
    t.equal(counts.ackedDistinct, acked, 'uniqExact() of the acknowledged ids equals N_acked');
    t.equal(counts.rows, counts.distinct, 'no log is stored twice, acknowledged or not');
    t.equal(counts.unknown, 0, 'nothing stored that was not sent');
    t.ok(counts.rows - acked <= load.abandoned.length * RECORDS_PER_REQUEST, 'beyond the acknowledged logs, only those of abandoned requests');
  });
