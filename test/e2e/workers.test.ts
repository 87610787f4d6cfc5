import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import t from 'tap';
import { DiskQueue } from '../../src/exporterhelper/disk-queue.js';
import pino from 'pino';
import { ClickHouseHttpFront } from '../support/clickhouse-http-front.js';
import { startDaemonProcess } from '../support/cli.js';
import { tempDir, waitFor } from '../support/daemon.js';
import { childDaemonConfig, NumberedLoad, storedCounts } from '../support/load.js';
import { freePort } from '../support/ports.js';
import { SDK_PROTOCOLS, SELECT_ROWS, emitWithSdk, type ExpectedRow } from '../support/sdk.js';

const RECORDS_PER_REQUEST = 200;
const SDK_RECORDS = 120;

interface ClusterStats {
  workers_running: number;
  exporters: { clickhouse?: { queue_size?: number } };
  by_worker: Array<{ index: number; pid: number; receivers: { otlp?: { accepted?: number } } | null }>;
}

function config(queue: string, endpoint: string, workers: number): string {
  return `
processors:
  batch: { send_batch_size: 1000, timeout: 100ms }
exporters:
  clickhouse:
    endpoint: ${endpoint}
    sending_queue: { storage: ${queue}, queue_size: 40000 }
    retry_on_failure: { initial_interval: 50ms, max_interval: 500ms, max_elapsed_time: 0 }
service:
  workers: ${workers}
  shutdown_timeout: 3s
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
`;
}

/**
 * service.workers: 2 against a ClickHouse server (the HTTP front, on chDB in this process): the
 * workers share the OTLP port, each with its own disk queue; a worker killed with SIGKILL under
 * load is started again and replays its queue, and so does a new start after the primary is
 * killed; every acknowledged log is stored exactly once.
 */
t.test('two workers: a worker or the primary killed with SIGKILL under load loses nothing acknowledged', async (t) => {
  const dir = tempDir('workers');
  const front = await ClickHouseHttpFront.start({ path: join(dir, 'clickhouse'), port: await freePort() });
  t.teardown(() => front.close());
  const queue = join(dir, 'queue');
  const { configFile, httpPort, telemetryPort } = await childDaemonConfig(dir, config(queue, front.url, 2));
  const stats = async () => (await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as ClusterStats;

  let daemon = await startDaemonProcess(configFile);
  const load = new NumberedLoad(`http://127.0.0.1:${httpPort}/v1/logs`, { senders: 6, recordsPerRequest: RECORDS_PER_REQUEST, total: Number.MAX_SAFE_INTEGER });
  load.start();
  t.ok(await waitFor(async () => load.acked.length >= 40), 'the workers take data');
  const spread = (await stats()).by_worker.map((w) => w.receivers?.otlp?.accepted ?? 0);
  t.ok(
    spread.every((n) => n > 0),
    `both workers accepted logs over the shared port (${spread.join(', ')})`,
  );

  for (let kill = 1; kill <= 3; kill++) {
    const victim = (await stats()).by_worker[kill % 2]!;
    const ackedBefore = load.acked.length;
    process.kill(victim.pid, 'SIGKILL');
    t.ok(
      await waitFor(async () => {
        const s = await stats();
        return s.workers_running === 2 && s.by_worker[victim.index]!.pid !== victim.pid;
      }),
      `kill ${kill}: worker ${victim.index} (pid ${victim.pid}) was started again`,
    );
    t.ok(await waitFor(async () => load.acked.length >= ackedBefore + 20), `kill ${kill}: logs are acknowledged again`);
  }
  t.match(daemon.logs(), /a worker process died; starting it again/, 'the primary logged the deaths');
  const metrics = await (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`)).text();
  t.match(metrics, /^otelhouse_service_worker_restarts_total\{worker="1"\} 2$/m, 'two restarts of worker 1 counted');
  t.match(metrics, /^otelhouse_service_worker_restarts_total\{worker="0"\} 1$/m, 'one of worker 0');
  t.match(metrics, /^otelhouse_service_workers_running 2$/m, 'both running');

  // The primary killed: its workers drain and exit by themselves, and a new start replays both queues.
  const orphans = (await stats()).by_worker.map((w) => w.pid);
  const ackedBefore = load.acked.length;
  daemon.child.kill('SIGKILL');
  await daemon.exited;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  t.ok(await waitFor(async () => !orphans.some(alive), 20_000), 'the workers of a killed primary exit');
  daemon = await startDaemonProcess(configFile);
  t.ok(await waitFor(async () => load.acked.length >= ackedBefore + 20), 'a new start takes data again');
  await load.stop();
  t.ok(await waitFor(async () => (await stats()).exporters.clickhouse?.queue_size === 0, 60_000), 'the queues drain');
  t.same(readdirSync(queue).sort(), ['clickhouse', 'clickhouse~worker-1'], 'each worker has its own queue directory');
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'SIGTERM drains both workers and the primary exits 0');

  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  const counts = await storedCounts(client, load);
  const acked = load.ackedRecords;
  t.ok(acked > 0, `${acked} logs acknowledged, ${load.abandoned.length} requests abandoned`);
  t.equal(counts.ackedDistinct, acked, 'every acknowledged log is stored');
  t.equal(counts.rows, counts.distinct, 'no log is stored twice');
  t.equal(counts.unknown, 0, 'nothing stored that was not sent');
});

t.test('lowering service.workers: the first worker takes over the queue of the one that no longer runs', async (t) => {
  const dir = tempDir('workers-down');
  const frontPort = await freePort();
  const endpoint = `http://127.0.0.1:${frontPort}`;
  const queue = join(dir, 'queue');
  // No ClickHouse yet: acknowledged logs wait in the two workers' disk queues.
  const two = await childDaemonConfig(dir, config(queue, endpoint, 2));
  let daemon = await startDaemonProcess(two.configFile);
  const load = new NumberedLoad(`http://127.0.0.1:${two.httpPort}/v1/logs`, { senders: 4, recordsPerRequest: RECORDS_PER_REQUEST, total: 40 * RECORDS_PER_REQUEST });
  await load.start().finished();
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'the two workers stop with their logs still queued');
  const retired = join(queue, 'clickhouse~worker-1');
  const held = DiskQueue.inspect(retired, pino({ level: 'silent' }));
  t.ok(held.records > 0, `the second worker's queue holds ${held.records} logs`);

  const front = await ClickHouseHttpFront.start({ path: join(dir, 'clickhouse'), port: frontPort });
  t.teardown(() => front.close());
  const one = await childDaemonConfig(dir, config(queue, endpoint, 1));
  daemon = await startDaemonProcess(one.configFile);
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  t.ok(await waitFor(async () => (await storedCounts(client, load)).ackedDistinct === load.ackedRecords, 60_000), 'one process stores what both workers acknowledged');
  t.match(daemon.logs(), /took over the disk queue of a worker process that no longer runs/, 'the take-over is logged');
  t.notOk(existsSync(retired), "the retired worker's queue directory is removed");
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'a clean stop');
  const counts = await storedCounts(client, load);
  t.equal(counts.ackedDistinct, load.ackedRecords, `all ${load.ackedRecords} acknowledged logs stored`);
  t.equal(counts.rows, counts.distinct, 'none twice');
});

t.test("the console's live tail shows the records of every worker", async (t) => {
  const dir = tempDir('workers-tail');
  const front = await ClickHouseHttpFront.start({ path: join(dir, 'clickhouse'), port: await freePort() });
  t.teardown(() => front.close());
  const consolePort = await freePort();
  const body = config(join(dir, 'queue'), front.url, 2).replace('service:\n', `extensions:\n  console: { endpoint: 127.0.0.1:${consolePort} }\nservice:\n  extensions: [console]\n`);
  const { configFile, httpPort, telemetryPort } = await childDaemonConfig(dir, body);
  const daemon = await startDaemonProcess(configFile);
  t.teardown(async () => {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  });

  const controller = new AbortController();
  const res = await fetch(`http://127.0.0.1:${consolePort}/api/v1/tail?q=tailed`, { signal: controller.signal });
  t.equal(res.status, 200, 'the tail is open on one of the workers');
  const reader = res.body!.getReader();
  let text = '';
  const seen = () => [...text.matchAll(/"body":"tailed (\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += Buffer.from(value!).toString('utf8');
    }
  })();
  // The relay starts once the primary told the other worker that a tail exists.
  await new Promise((r) => setTimeout(r, 500));
  const SENT = 12;
  for (let i = 0; i < SENT; i++) {
    // A connection each: the primary hands connections to the workers in turn.
    const sent = await postOnNewConnection(httpPort, `tailed ${i}`);
    t.equal(sent, 200, `record ${i} accepted`);
  }
  const stats = (await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as ClusterStats;
  const spread = stats.by_worker.map((w) => w.receivers?.otlp?.accepted ?? 0);
  t.ok(
    spread.every((n) => n > 0),
    `both workers took records (${spread.join(', ')})`,
  );
  t.ok(await waitFor(async () => seen().length >= SENT, 20_000), 'the tail saw every record');
  const consoleStats = (await (await fetch(`http://127.0.0.1:${consolePort}/api/v1/stats`)).json()) as ClusterStats & {
    receivers: { otlp?: { accepted?: number } };
  };
  t.equal(consoleStats.receivers.otlp?.accepted, SENT, "the console's stats are the whole service's");
  controller.abort();
  await reading;
  t.same(
    seen(),
    Array.from({ length: SENT }, (_, i) => i),
    'each record once',
  );
});

/** An OTLP/JSON request of one record on a connection of its own; resolves with the status. */
function postOnNewConnection(port: number, body: string): Promise<number> {
  const payload = JSON.stringify({
    resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ logRecords: [{ body: { stringValue: body } }] }] }],
  });
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: '/v1/logs', method: 'POST', agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

t.test('two workers take what the OpenTelemetry JS SDK sends over gRPC, HTTP/protobuf and HTTP/JSON', async (t) => {
  const dir = tempDir('workers-sdk');
  const front = await ClickHouseHttpFront.start({ path: join(dir, 'clickhouse'), port: await freePort() });
  t.teardown(() => front.close());
  const grpcPort = await freePort();
  const { configFile, httpPort, telemetryPort } = await childDaemonConfig(dir, config(join(dir, 'queue'), front.url, 2), '', `grpc: { endpoint: 127.0.0.1:${grpcPort} }`);
  const daemon = await startDaemonProcess(configFile);
  t.teardown(async () => {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  });
  const expected = new Map<string, ExpectedRow[]>();
  // Each protocol's exporter opens connections of its own, which the primary hands out in turn.
  for (const protocol of SDK_PROTOCOLS) expected.set(protocol, await emitWithSdk(protocol, { grpcPort, httpPort }, SDK_RECORDS));
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  const total = SDK_RECORDS * SDK_PROTOCOLS.length;
  const count = async () => Number((await (await client.query({ query: 'SELECT count() AS n FROM otel.otel_logs', format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
  t.ok(await waitFor(async () => (await count()) >= total), `all ${total} records arrive`);
  t.equal(await count(), total, 'each once');
  for (const protocol of SDK_PROTOCOLS) {
    const want = expected.get(protocol)!;
    const rows = await (await client.query({ query: SELECT_ROWS('otel', want[0]!.ServiceName), format: 'JSONEachRow' })).json<ExpectedRow>();
    t.same(rows, want, `${protocol}: every row matches field by field`);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`)).text();
  t.match(metrics, new RegExp(`otelhouse_receiver_accepted_log_records_total\\{receiver="otlp",transport="grpc"\\} ${SDK_RECORDS}\\n`), "/metrics sums the workers' counts");
});

t.test('two workers share the syslog UDP socket and TCP port', async (t) => {
  const dir = tempDir('workers-syslog');
  const front = await ClickHouseHttpFront.start({ path: join(dir, 'clickhouse'), port: await freePort() });
  t.teardown(() => front.close());
  const [syslogPort, telemetryPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'otelhouse.yaml');
  writeFileSync(
    configFile,
    `receivers:
  syslog:
    tcp: { listen_address: 127.0.0.1:${syslogPort} }
    udp: { listen_address: 127.0.0.1:${syslogPort} }
${config(join(dir, 'queue'), front.url, 2).trim().replace('receivers: [otlp]', 'receivers: [syslog]')}
  telemetry:
    metrics: { address: 127.0.0.1:${telemetryPort} }
`,
  );
  const daemon = await startDaemonProcess(configFile);
  t.teardown(async () => {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  });
  const DATAGRAMS = 200;
  const udp = createSocket('udp4');
  for (let i = 0; i < DATAGRAMS; i++) {
    // Paced: the kernel drops datagrams a full receive buffer cannot take, and this is not a flood test.
    await new Promise<void>((resolve, reject) => udp.send(`<13>1 - host-u udp-app - - - datagram ${i}`, syslogPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
  }
  udp.close();
  const CONNECTIONS = 6;
  for (let c = 0; c < CONNECTIONS; c++) {
    const socket = connect(syslogPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let text = '';
    for (let i = 0; i < 50; i++) {
      const msg = `<13>1 - host-t tcp-app - - - connection ${c} message ${i}`;
      text += `${Buffer.byteLength(msg)} ${msg}`;
    }
    await new Promise<void>((resolve) => socket.end(text, () => resolve()));
  }
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  const count = async (service: string) =>
    Number((await (await client.query({ query: `SELECT count() AS n FROM otel.otel_logs WHERE ServiceName = '${service}'`, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
  t.ok(await waitFor(async () => (await count('tcp-app')) >= CONNECTIONS * 50), 'every TCP message is stored');
  t.equal(await count('tcp-app'), CONNECTIONS * 50, 'each once');
  t.ok(await waitFor(async () => (await count('udp-app')) >= DATAGRAMS), 'every datagram is stored');
  t.equal(await count('udp-app'), DATAGRAMS, 'each once');
  const stats = (await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as {
    by_worker: Array<{ receivers: { syslog?: { accepted?: number } } | null }>;
  };
  const spread = stats.by_worker.map((w) => w.receivers?.syslog?.accepted ?? 0);
  t.ok(
    spread.every((n) => n > 0),
    `both workers took syslog (${spread.join(', ')})`,
  );
});
