import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import t from 'tap';
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { attributesConfigSchema } from '../../../src/processors/attributes/config.js';
import { attributesProcessorFactory } from '../../../src/processors/attributes/index.js';
import { BackPressureError } from '../../../src/pipeline/errors.js';
import type { LogRecord } from '../../../src/pipeline/model.js';
import { SyslogReceiver } from '../../../src/receivers/syslog/syslog-receiver.js';
import { syslogReceiverFactory } from '../../../src/receivers/syslog/index.js';
import { syslogConfigSchema } from '../../../src/receivers/syslog/config.js';
import { Telemetry } from '../../../src/telemetry/metrics.js';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { oneReceiverYaml, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';

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
    ((await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { receivers: { syslog: { accepted?: number; refused?: number; flow_control_waits?: number } } }).receivers
      .syslog;
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
  t.ok(
    await waitFor(async () => {
      const r = await settled();
      return r.stored + r.refused === UDP_MESSAGES;
    }, 60_000),
    'every UDP message is stored or counted as refused',
  );
  const udpResult = await settled();
  t.ok(udpResult.refused > 0, `UDP messages arriving while the pipeline is full are refused (${udpResult.refused} of ${UDP_MESSAGES})`);
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_receiver_refused_log_records_total\{receiver="syslog",transport="udp",reason="back_pressure"\} [1-9]/);
  t.equal(udpResult.accepted, MESSAGES + udpResult.stored, '/stats counts what was accepted');
  udp.close();
});

t.test('a chunk refused for back-pressure is offered again as a new batch, not the one processors already changed', async (t) => {
  const logger = pino({ level: 'silent' });
  const telemetry = new Telemetry();
  // What reached the stage after the processor, per attempt; the first two attempts are refused.
  const attempts: LogRecord[][] = [];
  const refusing = {
    consume: async (batch: { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: LogRecord[] }> }> }) => {
      attempts.push(batch.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)).map((r) => structuredClone(r)));
      if (attempts.length <= 2) throw new BackPressureError('queue full', 10);
    },
  };
  // A hash action changes records in place: hashing an already hashed value stores a hash of the hash.
  const attributes = attributesProcessorFactory.create(
    attributesConfigSchema.parse({
      actions: [
        { action: 'insert', key: 'tag', value: 'x' },
        { action: 'hash', key: 'tag' },
      ],
    }),
    { id: 'attributes', kind: 'processor', logger, telemetry: telemetry.forComponent('processor', 'attributes') },
    refusing,
  );
  const receiverTelemetry = telemetry.forComponent('receiver', 'syslog');
  const receiver = syslogReceiverFactory.create(
    syslogConfigSchema.parse({ tcp: { listen_address: '127.0.0.1:0' } }),
    { id: 'syslog', kind: 'receiver', logger, telemetry: receiverTelemetry },
    attributes,
  );
  await receiver.start();
  t.teardown(() => receiver.shutdown(Date.now() + 1000));

  const socket = connect((receiver as SyslogReceiver).tcpPort, '127.0.0.1');
  socket.end('<13>1 2024-01-01T00:00:00Z host app - - - hello\nno priority here\n');
  t.ok(await waitFor(async () => (receiverTelemetry.counts['accepted'] ?? 0) === 2, 10_000, 5), 'the chunk is accepted on the third attempt');
  t.equal(attempts.length, 3, 'offered three times');
  const hashOfX = createHash('sha256').update('x').digest('hex');
  for (const [i, records] of attempts.entries()) {
    t.same(
      records.map((r) => r.attributes['tag']),
      [hashOfX, hashOfX],
      `attempt ${i + 1}: the tag is hashed once`,
    );
    t.same(
      records.map((r) => r.body),
      ['hello', 'no priority here'],
      `attempt ${i + 1}: both records`,
    );
  }
  t.equal(receiverTelemetry.counts['unparsed'], 1, 'a message without PRI is counted once, not once per attempt');
  t.equal(receiverTelemetry.counts['flow_control_waits'], 2);
});
