import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import t from 'tap';
import { SyslogReceiver } from '../src/receivers/syslog/index.js';
import { ClickHouseHttpFront } from './support/clickhouse-http-front.js';
import { oneReceiverYaml, startTestDaemon, tempDir, waitFor } from './support/daemon.js';

const MESSAGES = 20_000;

t.test('syslog under back-pressure: TCP is held (nothing lost), UDP refusals are counted', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('syslog-bp') });
  t.teardown(() => front.close());
  front.inject({ kind: 'delay', count: 4, delayMs: 1500, match: /INSERT/ });
  const daemon = await startTestDaemon(
    oneReceiverYaml({
      receiver: 'syslog:\n  tcp: { listen_address: 127.0.0.1:0 }\n  udp: { listen_address: 127.0.0.1:0 }',
      batch: 'send_batch_size: 500, timeout: 20ms, max_pending_records: 1000',
      clickhouse: `endpoint: "${front.url}", sending_queue: { num_consumers: 1, queue_size: 1000 }`,
    }),
  );
  t.teardown(() => daemon.stop());
  const receiver = daemon.service.receivers[0]!.component as SyslogReceiver;

  const stats = async () =>
    ((await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { receivers: { syslog: { accepted?: number; refused?: number; flow_control_waits?: number } } })
      .receivers.syslog;
  const socket = connect(receiver.tcpPort, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  for (let i = 0; i < MESSAGES; i++) {
    const msg = `<14>1 2026-11-22T10:00:00Z h app - - - tcp message ${i}`;
    socket.write(`${Buffer.byteLength(msg)} ${msg}`);
  }
  socket.end();
  t.ok(await waitFor(async () => ((await stats()).flow_control_waits ?? 0) > 0), 'the TCP connection is held while the pipeline refuses');

  t.ok(await waitFor(async () => (await front.query("SELECT count() FROM otel.otel_logs WHERE Body LIKE 'tcp message %'")).trim() === String(MESSAGES), 60_000), 'every TCP message is stored');
  t.equal((await front.query("SELECT uniqExact(Body) FROM otel.otel_logs WHERE Body LIKE 'tcp message %'")).trim(), String(MESSAGES), 'once each');

  // UDP has no flow control: with ClickHouse stalled and the queues full, datagrams are refused.
  front.inject({ kind: 'delay', count: 3, delayMs: 2000, match: /INSERT/ });
  const udp = createSocket('udp4');
  const UDP_MESSAGES = 5000;
  for (let i = 0; i < UDP_MESSAGES; i++) udp.send(`<14>1 2026-11-22T10:00:00Z h app - - - udp message ${i}`, receiver.udpPort, '127.0.0.1');
  const settled = async () => {
    const s = await stats();
    const stored = Number((await front.query("SELECT count() FROM otel.otel_logs WHERE Body LIKE 'udp message %'")).trim());
    return { refused: s.refused ?? 0, stored, accepted: s.accepted ?? 0 };
  };
  t.ok(await waitFor(async () => { const r = await settled(); return r.stored + r.refused === UDP_MESSAGES; }, 60_000), 'every UDP message is stored or counted as refused');
  const udpResult = await settled();
  t.ok(udpResult.refused > 0, `UDP messages arriving while the pipeline is full are refused (${udpResult.refused} of ${UDP_MESSAGES})`);
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_receiver_refused_log_records_total\{receiver="syslog",transport="udp",reason="back_pressure"\} [1-9]/);
  t.equal(udpResult.accepted, MESSAGES + udpResult.stored, '/stats counts what was accepted');
  udp.close();
});
