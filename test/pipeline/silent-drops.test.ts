import { createSocket } from 'node:dgram';
import t from 'tap';
import type { JsonIngestReceiver } from '../../src/receivers/json_ingest/json-ingest-receiver.js';
import type { SyslogReceiver } from '../../src/receivers/syslog/syslog-receiver.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor, type RunningDaemon } from '../support/daemon.js';

type Stats = { receivers: Record<string, Record<string, number>>; exporters: Record<string, Record<string, number>> };

async function stats(d: RunningDaemon): Promise<Stats> {
  return (await fetch(`http://127.0.0.1:${d.telemetryPort}/stats`)).json() as Promise<Stats>;
}

async function sendDatagram(port: number, payload: Buffer): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => socket.send(payload, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  socket.close();
}

t.test('records past the ttl are counted as expired; empty UDP datagrams make no record', async (t) => {
  const path = tempDir('silent-drops');
  const daemon = await startTestDaemon(`
receivers:
  json_ingest: { endpoint: 127.0.0.1:0 }
  syslog:
    udp: { listen_address: 127.0.0.1:0 }
processors:
  batch: { send_batch_size: 100, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${path}", ttl: 24h }
service:
  pipelines:
    logs: { receivers: [json_ingest, syslog], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
  let stopped = false;
  t.teardown(() => (stopped ? undefined : daemon.stop()));
  const ingestPort = (daemon.service.receivers[0]!.component as JsonIngestReceiver).port;
  const udpPort = (daemon.service.receivers[1]!.component as SyslogReceiver).udpPort;

  const old = new Date(Date.now() - 48 * 3_600_000).toISOString();
  const res = await fetch(`http://127.0.0.1:${ingestPort}/logs/ingest`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      logs: [
        { org: 'acme', message: 'two days late', timestamp: old },
        { org: 'acme', message: 'on time' },
      ],
    }),
  });
  t.equal(res.status, 200, 'the sender is answered 200 either way');
  t.ok(await waitFor(async () => ((await stats(daemon)).exporters['clickhouse']?.['exported'] ?? 0) >= 2), 'both records were sent');
  t.equal((await stats(daemon)).exporters['clickhouse']!['expired'], 1, '/stats counts the record older than the ttl');
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /^otelhouse_exporter_expired_log_records_total\{exporter="clickhouse"\} 1$/m);

  await sendDatagram(udpPort, Buffer.alloc(0));
  await sendDatagram(udpPort, Buffer.from(' \r\n'));
  // No timestamp (RFC 5424's NILVALUE): the time of receipt, which the 24 h ttl keeps whatever the date.
  await sendDatagram(udpPort, Buffer.from('<13>1 - web-1 app - - - after the empty ones'));
  t.ok(await waitFor(async () => ((await stats(daemon)).receivers['syslog']?.['accepted'] ?? 0) >= 1), 'the real datagram was accepted');
  const syslog = (await stats(daemon)).receivers['syslog']!;
  t.equal(syslog['accepted'], 1, 'the empty datagrams were not accepted as records');
  t.equal(syslog['empty'], 2, 'and were counted as empty');

  await daemon.stop();
  stopped = true;
  const client = embeddedClient(path);
  t.teardown(() => client.close());
  const rows = await queryRows<{ Body: string }>(client, `SELECT Body FROM otel.otel_logs WHERE LogAttributes['network.transport'] = 'udp'`);
  t.same(
    rows.map((r) => r.Body),
    ['after the empty ones'],
    'only the real datagram was stored',
  );
});
