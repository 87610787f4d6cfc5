import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { startDaemonProcess } from '../support/cli.js';
import { embeddedClient, queryRows, tempDir } from '../support/daemon.js';
import { numberedBatch } from '../support/otlp-requests.js';
import { freePort } from '../support/ports.js';

const RECORDS_PER_REQUEST = 200;
const SENDERS = 4;
const ACKS_BEFORE_SIGTERM = 30;

t.test('SIGTERM during load: exit 0 and every acknowledged record is stored exactly once', async (t) => {
  const dir = tempDir('sigterm');
  const store = join(dir, 'store');
  const [httpPort, grpcPort, telemetryPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = join(dir, 'otelhouse.yaml');
  writeFileSync(
    configFile,
    `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  batch: { send_batch_size: 5000, timeout: 2s }
exporters:
  clickhouse: { endpoint: "embedded://${store}" }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:${telemetryPort} }
`,
  );
  const daemon = await startDaemonProcess(configFile);
  const acked: number[] = [];
  let refused = 0;
  let nextFirst = 0;
  let signalled = false;
  const url = `http://127.0.0.1:${httpPort}/v1/logs`;

  async function sender(): Promise<void> {
    for (;;) {
      const first = nextFirst;
      nextFirst += RECORDS_PER_REQUEST;
      let status: number;
      try {
        const res = await fetch(url, { method: 'POST', body: encodeLogsRequest(numberedBatch(first, RECORDS_PER_REQUEST)), headers: { 'Content-Type': 'application/x-protobuf' } });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        return;
      }
      if (status !== 200) {
        refused++;
        return;
      }
      acked.push(first);
      if (!signalled && acked.length >= ACKS_BEFORE_SIGTERM) {
        signalled = true;
        daemon.child.kill('SIGTERM');
      }
    }
  }

  await Promise.all(Array.from({ length: SENDERS }, sender));
  const code = await daemon.exited;
  t.equal(code, 0, 'the daemon exits 0 after draining');
  t.ok(acked.length >= ACKS_BEFORE_SIGTERM, `${acked.length} requests acknowledged, ${refused} refused while draining`);
  t.match(daemon.logs(), /draining/);

  const client = embeddedClient(store);
  t.teardown(() => client.close());
  const seqs = acked.flatMap((first) => Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => first + i));
  const [row] = await queryRows<{ stored: string; distinct: string; total: string }>(
    client,
    `SELECT toString(countIf(seq IN (${seqs.join(',')}))) AS stored, toString(uniqExactIf(seq, seq IN (${seqs.join(',')}))) AS distinct, toString(count()) AS total
     FROM (SELECT toUInt64(LogAttributes['seq']) AS seq FROM otel.otel_logs)`,
  );
  t.equal(Number(row!.stored), seqs.length, 'every acknowledged record is stored');
  t.equal(Number(row!.distinct), seqs.length, 'none is stored twice');
});
