import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { startDaemonProcess } from '../support/cli.js';
import { embeddedClient, queryRows, tempDir } from '../support/daemon.js';
import { numberedBatch } from '../support/otlp-requests.js';
import { freePort } from '../support/ports.js';

t.test('two pipelines share a receiver; a pipeline fans out to two exporters; debug prints records', async (t) => {
  const dir = tempDir('pipelines');
  const store = join(dir, 'store');
  const [httpPort, telemetryPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'otelhouse.yaml');
  writeFileSync(
    configFile,
    `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  batch:
  batch/small: { send_batch_size: 10, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${store}" }
  clickhouse/copy: { endpoint: "embedded://${store}", logs_table_name: otel_logs_copy }
  debug/records: { verbosity: normal }
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [clickhouse, clickhouse/copy]
    logs/console:
      receivers: [otlp]
      processors: [batch/small]
      exporters: [debug/records]
  telemetry:
    metrics: { address: 127.0.0.1:${telemetryPort} }
`,
  );
  const daemon = await startDaemonProcess(configFile);
  let stdout = '';
  daemon.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/logs`, { method: 'POST', body: encodeLogsRequest(numberedBatch(0, 25)), headers: { 'Content-Type': 'application/x-protobuf' } });
  t.equal(res.status, 200);
  const stats = (await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as { pipelines: string[]; processors: Record<string, unknown> };
  t.same(stats.pipelines, ['logs', 'logs/console']);
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);

  t.match(stdout, /request 0 served in 0ms/, 'the debug exporter printed the records');
  t.equal(stdout.match(/request \d+ served/g)?.length, 25, 'each record once');
  const client = embeddedClient(store);
  t.teardown(() => client.close());
  const [row] = await queryRows<{ a: string; b: string }>(client, 'SELECT (SELECT toString(count()) FROM otel.otel_logs) AS a, (SELECT toString(count()) FROM otel.otel_logs_copy) AS b');
  t.same(row, { a: '25', b: '25' }, 'both exporters of the pipeline stored every record once');
});
