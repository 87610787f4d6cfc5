import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../support/daemon.js';
import { grpcExport, numberedBatch } from '../support/otlp-requests.js';

/*
 * sending_queue.batch answers a request once the insert holding its rows is queued, up to
 * flush_timeout after it arrived. Its records are encoded into the insert's bytes as it arrives;
 * nothing on the way (receiver, processors, the pipeline's wiring) may keep the decoded records
 * reachable while the request waits, or they fill V8's old generation (D87). The test holds 15
 * requests of 2,500 records, each carrying 2 KB of incompressible text, in the open insert, and
 * weighs the JavaScript heap: the records as decoded objects would be over 75 MB of it.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const REQUESTS = 16;
const RECORDS = 2500;
const PADDING = 2000;

function heapUsedAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

t.test('requests waiting in sending_queue.batch keep none of their records on the heap', async (t) => {
  const dir = tempDir('otelhouse-waiting-');
  const daemon = await startTestDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:0", max_recv_msg_size_mib: 64 }
      http: { endpoint: "127.0.0.1:0", max_request_body_size: 67108864 }
processors:
  memory_limiter: { check_interval: 1s, limit_percentage: 95, spike_limit_percentage: 5 }
  templates: { parallel_threshold: 5000 }
exporters:
  clickhouse:
    endpoint: "embedded://${join(dir, 'ch')}"
    sending_queue:
      storage: ${join(dir, 'queue')}
      queue_size: ${REQUESTS * RECORDS}
      batch: { min_size: ${REQUESTS * RECORDS}, flush_timeout: 1h }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [memory_limiter, templates], exporters: [clickhouse] }
  telemetry:
    metrics: { address: "127.0.0.1:0" }
`);
  t.teardown(() => daemon.stop());
  const queued = async (): Promise<number> =>
    ((await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { queue_size?: number } } }).exporters.clickhouse.queue_size ?? 0;

  const bodies = Array.from({ length: REQUESTS }, (_, i) => encodeLogsRequest(numberedBatch(i * RECORDS, RECORDS, 'waiting', PADDING)));
  const before = heapUsedAfterGc();
  const send = (i: number): Promise<string> =>
    i % 2 === 0
      ? grpcExport(daemon.grpcPort, bodies[i]!).then((r) => `grpc ${r.code} ${r.details}`)
      : fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf' },
          body: bodies[i]!,
        }).then((r) => `http ${r.status}`);
  const answers = Array.from({ length: REQUESTS - 1 }, (_, i) => send(i));
  t.ok(await waitFor(async () => (await queued()) === (REQUESTS - 1) * RECORDS), 'the first 15 requests are in the open insert');
  const grown = heapUsedAfterGc() - before;
  const padding = (REQUESTS - 1) * RECORDS * PADDING;
  t.ok(grown < padding / 4, `heap grew by ${(grown / 1e6).toFixed(1)} MB while 15 requests carrying ${(padding / 1e6).toFixed(0)} MB of text wait`);

  answers.push(send(REQUESTS - 1));
  const results = await Promise.all(answers);
  t.same(
    results,
    bodies.map((_, i) => (i % 2 === 0 ? 'grpc 0 ' : 'http 200')),
    'the 16th request fills the insert, and every request is answered once it is queued',
  );
  const client = embeddedClient(join(dir, 'ch'));
  t.teardown(() => client.close());
  t.ok(
    await waitFor(async () => {
      const [row] = await queryRows<{ n: string; seqs: string }>(client, `SELECT count() AS n, uniqExact(LogAttributes['seq']) AS seqs FROM otel.otel_logs`);
      return Number(row?.n) === REQUESTS * RECORDS && Number(row?.seqs) === REQUESTS * RECORDS;
    }, 60_000),
    `all ${REQUESTS * RECORDS} records are stored once`,
  );
});
