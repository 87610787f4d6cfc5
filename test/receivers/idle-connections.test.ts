import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { BackPressureError } from '../../src/pipeline/errors.js';
import type { LogBatch } from '../../src/pipeline/model.js';
import { otlpConfigSchema } from '../../src/receivers/otlp/config.js';
import { OtlpGrpcServer } from '../../src/receivers/otlp/grpc-server.js';
import { syslogConfigSchema } from '../../src/receivers/syslog/config.js';
import { SyslogReceiver } from '../../src/receivers/syslog/syslog-receiver.js';
import { Telemetry } from '../../src/telemetry/metrics.js';
import { makeCertificates } from '../support/certs.js';
import { tempDir, waitFor } from '../support/daemon.js';
import { grpcExport, numberedBatch } from '../support/otlp-requests.js';

const logger = pino({ level: 'silent' });
const HTTP2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/** A client that connects, sends `first` (if anything), then never reads nor writes again. */
function silentClient(port: number, first?: Buffer): Socket {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  if (first) socket.write(first);
  return socket;
}

const grpcConfig = (extra: Record<string, unknown>) =>
  otlpConfigSchema.parse({
    protocols: { grpc: { endpoint: '127.0.0.1:0', max_connections: 3, connection_timeout: '200ms', keepalive: { server_parameters: { max_connection_idle: '300ms' } }, ...extra } },
  }).protocols.grpc!;

t.test('gRPC: connections that send nothing, or ignore the server closing them, give their max_connections slot back', async (t) => {
  const dir = tempDir('idle-grpc');
  const certs = makeCertificates(dir);
  for (const tls of [false, true]) {
    const telemetry = new Telemetry().forComponent('receiver', 'otlp');
    const records: number[] = [];
    const config = grpcConfig(tls ? { tls: { cert_file: certs.crt('server'), key_file: certs.key('server') } } : {});
    const server = new OtlpGrpcServer(config, { id: 'otlp', kind: 'receiver', logger, telemetry }, { consume: async (b: LogBatch) => void records.push(b.resourceLogs.length) });
    await server.start();
    const held: Socket[] = [];
    t.teardown(() => held.forEach((s) => s.destroy()));
    if (tls) {
      // Handshaken, then silent and not reading: grpc-js's close of the idle session never reaches them.
      for (let i = 0; i < 3; i++) {
        const socket = tlsConnect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
        socket.on('error', () => undefined);
        await new Promise((resolve) => socket.once('secureConnect', resolve));
        socket.pause();
        held.push(socket);
      }
    } else {
      // Two that send nothing at all, one that sends the HTTP/2 preface and then does not read the GOAWAY.
      held.push(silentClient(server.port), silentClient(server.port), silentClient(server.port, HTTP2_PREFACE));
    }
    const what = tls ? 'TLS' : 'plaintext';
    t.ok(
      await waitFor(async () => (telemetry.counts['silent_connections_cut'] ?? 0) + (telemetry.counts['idle_connections_cut'] ?? 0) === 3, 20_000, 20),
      `${what}: the three silent connections are cut`,
    );
    if (!tls) t.equal(telemetry.counts['silent_connections_cut'], 2, 'two never sent a byte');
    const credentials = tls ? grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined }) : undefined;
    const answer = await grpcExport(server.port, encodeLogsRequest(numberedBatch(1, 5)), credentials ? { credentials } : {});
    t.equal(answer.code, grpc.status.OK, `${what}: a real client gets a slot again`);
    t.same(records, [1]);

    // A client that keeps calling is not cut: calls keep its connection busy (or it reconnects after an idle GOAWAY).
    const Client = grpc.makeGenericClientConstructor({}, 'LogsService');
    const client = new Client(`127.0.0.1:${server.port}`, credentials ?? grpc.credentials.createInsecure());
    for (let i = 0; i < 10; i++) {
      const code = await new Promise<grpc.status>((resolve) =>
        client.makeUnaryRequest(
          '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(encodeLogsRequest(numberedBatch(i, 1))),
          new grpc.Metadata(),
          (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK),
        ),
      );
      t.equal(code, grpc.status.OK, `${what}: call ${i} of a busy client`);
      await new Promise((r) => setTimeout(r, 50));
    }
    client.close();
    await server.shutdown(Date.now() + 2000);
  }
});

t.test('syslog TCP: idle_timeout closes a quiet connection, but never one held under back-pressure', async (t) => {
  let refuse = 0;
  const bodies: string[] = [];
  const consumer = {
    consume: async (batch: LogBatch) => {
      if (refuse > 0) {
        refuse--;
        throw new BackPressureError('queue full', 10);
      }
      for (const rl of batch.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) bodies.push(String(r.body));
    },
  };
  const telemetry = new Telemetry().forComponent('receiver', 'syslog');
  const receiver = new SyslogReceiver(syslogConfigSchema.parse({ tcp: { listen_address: '127.0.0.1:0', idle_timeout: '200ms' } }), { id: 'syslog', kind: 'receiver', logger, telemetry }, consumer);
  await receiver.start();
  t.teardown(() => receiver.shutdown(Date.now() + 1000));

  const quiet = connect(receiver.tcpPort, '127.0.0.1');
  const quietClosed = new Promise((resolve) => quiet.once('close', resolve));
  quiet.on('data', () => undefined);
  quiet.write('<14>1 2026-11-22T10:00:00Z h app - - - then silence\n');
  await quietClosed;
  t.equal(telemetry.counts['idle_connections_closed'], 1, 'the quiet connection is closed by the receiver');
  t.same(bodies, ['then silence'], 'after its message was taken');

  // Held (not read) while the pipeline refuses, for far longer than idle_timeout in all.
  refuse = 60;
  const held = connect(receiver.tcpPort, '127.0.0.1');
  let heldClosed = false;
  held.on('close', () => (heldClosed = true));
  held.write('<14>1 2026-11-22T10:00:00Z h app - - - held\n');
  t.ok(await waitFor(async () => bodies.length === 2, 30_000, 10), 'taken once the pipeline accepts');
  t.equal(refuse, 0, 'after sixty refusals');
  t.equal(telemetry.counts['idle_connections_closed'], 1, 'the held connection was not counted idle');
  t.notOk(heldClosed, 'and is still open');
  held.write('<14>1 2026-11-22T10:00:00Z h app - - - same connection\n');
  t.ok(await waitFor(async () => bodies.length === 3, 30_000, 10), 'it carries the next message');
  t.same(bodies.slice(1), ['held', 'same connection']);
  held.destroy();
});
