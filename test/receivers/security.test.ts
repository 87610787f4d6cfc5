import { X509Certificate } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as HttpProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import protobuf from 'protobufjs';
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { JsonIngestReceiver } from '../../src/receivers/json_ingest/json-ingest-receiver.js';
import { issueCertificate, makeCa, makeCertificates } from '../support/certs.js';
import { PROJECT_ROOT } from '../support/cli.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../support/daemon.js';
import { grpcExport, numberedBatch } from '../support/otlp-requests.js';

const statusType = protobuf.loadSync(`${PROJECT_ROOT}/proto/google/rpc/status.proto`).lookupType('google.rpc.Status');

const dir = tempDir('security');
const certs = makeCertificates(dir);
makeCa(dir, 'other-ca');
issueCertificate(dir, 'stranger', 'other-ca', 'client');
const ca = certs.read(certs.crt('ca'));
const clientCert = { cert: certs.read(certs.crt('client')), key: certs.read(certs.key('client')) };
const strangerCert = { cert: certs.read(certs.crt('stranger')), key: certs.read(certs.key('stranger')) };
const tokensFile = `${dir}/tokens`;
writeFileSync(tokensFile, 'token-a\ntoken-b\n');

const serverTls = `cert_file: ${certs.crt('server')}, key_file: ${certs.key('server')}, reload_interval: 100ms`;
const YAML = `
extensions:
  bearertokenauth:
    filename: ${tokensFile}
  bearertokenauth/ingest:
    scheme: ""
    header: X-Api-Key
    tokens: [ingest-key-1]
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        tls: { ${serverTls}, client_ca_file: ${certs.crt('ca')} }
        auth: { authenticator: bearertokenauth }
        max_concurrent_streams: 7
        max_connections: 3
      http:
        endpoint: 127.0.0.1:0
        tls: { ${serverTls} }
        auth: { authenticator: bearertokenauth }
        max_request_body_size: 65536
        read_header_timeout: 300ms
        read_timeout: 1s
  json_ingest:
    endpoint: 127.0.0.1:0
    tls: { cert_file: ${certs.crt('server')}, key_file: ${certs.key('server')}, min_version: "1.3" }
    auth: { authenticator: bearertokenauth/ingest }
    max_connections: 2
processors:
  batch: { send_batch_size: 100, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${dir}/store" }
service:
  extensions: [bearertokenauth, bearertokenauth/ingest]
  pipelines:
    logs: { receivers: [otlp, json_ingest], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;

interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function https(port: number, path: string, body: Uint8Array | string, headers: Record<string, string>, tls: ConnectionOptions = { ca }): Promise<HttpsAnswer | { error: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, method: 'POST', headers, agent: false, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

/** Opens a TLS connection and resolves once it is up (with the server certificate) or refused. */
function tlsOpen(port: number, options: ConnectionOptions): Promise<{ socket: TLSSocket; serial: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, ...options }, () => resolve({ socket, serial: socket.getPeerCertificate().serialNumber }));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    socket.on('close', () => resolve({ error: 'closed' }));
  });
}

function sdkProvider(exporter: LogRecordExporter, service: string): LoggerProvider {
  return new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 50, scheduledDelayMillis: 20 })],
  });
}

async function emit(provider: LoggerProvider, count: number): Promise<void> {
  const logger = provider.getLogger('security');
  for (let i = 0; i < count; i++) logger.emit({ body: `secure ${i}`, attributes: { seq: i } });
  await provider.forceFlush();
  await provider.shutdown();
}

const grpcTls = (cert: { cert: Buffer; key: Buffer } | undefined) => grpc.credentials.createSsl(ca, cert?.key ?? null, cert?.cert ?? null);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

t.test('TLS, mutual TLS, bearer tokens and limits on the OTLP and JSON receivers', async (t) => {
  const daemon = await startTestDaemon(YAML);
  t.teardown(() => daemon.stop());
  const ingestPort = (daemon.service.receivers.find((r) => r.id === 'json_ingest')!.component as JsonIngestReceiver).port;
  const store = embeddedClient(`${dir}/store`);
  t.teardown(() => store.close());
  const count = async (where: string) => Number((await queryRows<{ n: string }>(store, `SELECT toString(count()) AS n FROM otel.otel_logs WHERE ${where}`))[0]!.n);
  const metrics = async () => (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  const otlpRequest = (first: number, service: string) => encodeLogsRequest(numberedBatch(first, 10, service));

  await t.test('the OTel SDK sends over gRPC with a client certificate and a token, and over HTTPS with a token', async (t) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer token-a');
    await emit(sdkProvider(new GrpcLogExporter({ url: `https://127.0.0.1:${daemon.grpcPort}`, credentials: grpcTls(clientCert), metadata }), 'sdk-grpc-tls'), 20);
    await emit(
      sdkProvider(new HttpProtoLogExporter({ url: `https://127.0.0.1:${daemon.httpPort}/v1/logs`, headers: { Authorization: 'Bearer token-b' }, httpAgentOptions: { ca } }), 'sdk-http-tls'),
      20,
    );
    t.ok(await waitFor(async () => (await count("ServiceName IN ('sdk-grpc-tls', 'sdk-http-tls')")) === 40), 'all 40 records stored');
  });

  await t.test('gRPC: refused without a valid token (UNAUTHENTICATED) or a trusted client certificate', async (t) => {
    const noToken = await grpcExport(daemon.grpcPort, otlpRequest(0, 'intruder'), { credentials: grpcTls(clientCert) });
    t.equal(noToken.code, grpc.status.UNAUTHENTICATED, 'no token → UNAUTHENTICATED');
    t.match(noToken.details, /missing Authorization/);
    const wrongToken = await grpcExport(daemon.grpcPort, otlpRequest(10, 'intruder'), { credentials: grpcTls(clientCert), metadata: bearer('token-z') });
    t.same(wrongToken, { code: grpc.status.UNAUTHENTICATED, details: 'unauthenticated: invalid token' }, 'unknown token → UNAUTHENTICATED');
    const basic = await grpcExport(daemon.grpcPort, otlpRequest(20, 'intruder'), { credentials: grpcTls(clientCert), metadata: { authorization: 'Basic dG9rZW4tYQ==' } });
    t.equal(basic.code, grpc.status.UNAUTHENTICATED, 'another scheme → UNAUTHENTICATED');
    const noCert = await grpcExport(daemon.grpcPort, otlpRequest(30, 'intruder'), { credentials: grpcTls(undefined), metadata: bearer('token-a') });
    t.equal(noCert.code, grpc.status.UNAVAILABLE, 'no client certificate → the handshake fails');
    const stranger = await grpcExport(daemon.grpcPort, otlpRequest(40, 'intruder'), { credentials: grpcTls(strangerCert), metadata: bearer('token-a') });
    t.equal(stranger.code, grpc.status.UNAVAILABLE, 'a certificate from another CA → the handshake fails');
    const plain = await grpcExport(daemon.grpcPort, otlpRequest(50, 'intruder'), { metadata: bearer('token-a') });
    t.equal(plain.code, grpc.status.UNAVAILABLE, 'plain text to a TLS port fails');
    const ok = await grpcExport(daemon.grpcPort, otlpRequest(60, 'grpc-ok'), { credentials: grpcTls(clientCert), metadata: bearer('token-b') });
    t.equal(ok.code, grpc.status.OK, 'the same call with a token and a certificate passes');
    t.match(await metrics(), /otelhouse_receiver_refused_requests_total\{receiver="otlp",transport="grpc",reason="unauthenticated"\} 3\n/, 'refusals are counted');
  });

  await t.test('HTTP: 401 with a google.rpc.Status without a valid token; TLS required', async (t) => {
    const proto = { 'Content-Type': 'application/x-protobuf' };
    const noToken = await https(daemon.httpPort, '/v1/logs', otlpRequest(100, 'intruder'), proto);
    t.match(noToken, { status: 401, headers: { 'www-authenticate': 'Bearer' } }, 'no token → 401');
    const status = statusType.decode((noToken as HttpsAnswer).body) as unknown as { code: number; message: string };
    t.same({ code: status.code, message: status.message }, { code: 16, message: 'unauthenticated: missing Authorization header' }, 'Status UNAUTHENTICATED says why');
    t.match(await https(daemon.httpPort, '/v1/logs', otlpRequest(110, 'intruder'), { ...proto, Authorization: 'Bearer token-z' }), { status: 401 }, 'unknown token → 401');
    t.match(await https(daemon.httpPort, '/v1/logs', '{}', { 'Content-Type': 'application/json', Authorization: 'token-a' }), { status: 401 }, 'a token without its scheme → 401');
    const untrusted = await https(daemon.httpPort, '/v1/logs', otlpRequest(120, 'intruder'), { ...proto, Authorization: 'Bearer token-a' }, {});
    t.match(untrusted, { error: /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/ }, 'a client that does not trust the CA does not connect');
    const plain = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, { method: 'POST', body: otlpRequest(130, 'intruder'), headers: { ...proto, Authorization: 'Bearer token-a' } }).then(
      (r) => r.status,
      () => 'refused',
    );
    t.equal(plain, 'refused', 'plain HTTP to the TLS port gets no answer');
    t.match(await https(daemon.httpPort, '/v1/logs', otlpRequest(140, 'https-ok'), { ...proto, Authorization: 'bearer token-a' }), { status: 200 }, 'the scheme is not case-sensitive');
  });

  await t.test('json_ingest: its own authenticator (X-Api-Key, no scheme) and min_version 1.3', async (t) => {
    const json = { 'Content-Type': 'application/json' };
    const entry = (message: string) => JSON.stringify({ org: 'acme', service: message, message });
    t.match(await https(ingestPort, '/logs/ingest', entry('ingest-ok'), { ...json, 'X-Api-Key': 'ingest-key-1' }), { status: 200 }, 'its key passes');
    t.match(await https(ingestPort, '/logs/ingest', entry('intruder'), { ...json, Authorization: 'Bearer token-a' }), { status: 401 }, "another receiver's token does not");
    t.match(await https(ingestPort, '/logs/ingest', entry('intruder'), { ...json, 'X-Api-Key': 'ingest-key-2' }), { status: 401 }, 'an unknown key does not');
    t.match(
      await https(ingestPort, '/logs/ingest', entry('intruder'), { ...json, 'X-Api-Key': 'ingest-key-1' }, { ca, maxVersion: 'TLSv1.2' }),
      { error: /VERSION|ALERT|EPROTO/i },
      'TLS 1.2 is refused',
    );
  });

  await t.test('refused requests stored nothing; accepted ones were stored', async (t) => {
    t.ok(await waitFor(async () => (await count("ServiceName IN ('grpc-ok', 'https-ok', 'ingest-ok')")) === 21), 'accepted requests are stored');
    t.equal(await count("ServiceName = 'intruder'"), 0, 'no record of a refused request is stored');
  });

  await t.test('a rotated token file applies without a restart', async (t) => {
    writeFileSync(tokensFile, 'token-c\n');
    const proto = { 'Content-Type': 'application/x-protobuf' };
    t.ok(
      await waitFor(async () => ((await https(daemon.httpPort, '/v1/logs', otlpRequest(200, 'rotation-probe'), { ...proto, Authorization: 'Bearer token-a' })) as HttpsAnswer).status === 401),
      'the removed token is refused (polled until the file is re-read)',
    );
    t.match(await https(daemon.httpPort, '/v1/logs', otlpRequest(210, 'rotated'), { ...proto, Authorization: 'Bearer token-c' }), { status: 200 }, 'the new one passes');
    const grpcNew = await grpcExport(daemon.grpcPort, otlpRequest(220, 'rotated'), { credentials: grpcTls(clientCert), metadata: bearer('token-c') });
    t.equal(grpcNew.code, grpc.status.OK, 'on gRPC too');
  });

  await t.test('a renewed server certificate is served to new connections without a restart', async (t) => {
    issueCertificate(dir, 'server-next', 'ca', 'server');
    const nextSerial = new X509Certificate(certs.read(certs.crt('server-next'))).serialNumber;
    const before = await tlsOpen(daemon.httpPort, {});
    t.ok('socket' in before, 'a connection made before the renewal');
    copyFileSync(certs.key('server-next'), certs.key('server'));
    copyFileSync(certs.crt('server-next'), certs.crt('server'));
    const serialOf = async (port: number, options: ConnectionOptions) => {
      const c = await tlsOpen(port, options);
      if (!('socket' in c)) return c.error;
      c.socket.destroy();
      return c.serial;
    };
    t.ok(await waitFor(async () => (await serialOf(daemon.httpPort, {})) === nextSerial), 'HTTPS serves the new certificate');
    t.ok(await waitFor(async () => (await serialOf(daemon.grpcPort, { ...clientCert, ALPNProtocols: ['h2'] })) === nextSerial), 'gRPC serves the new certificate');
    if ('socket' in before) {
      t.not(before.serial, nextSerial, 'the earlier connection kept the old one');
      before.socket.destroy();
    }
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer token-c');
    await emit(sdkProvider(new GrpcLogExporter({ url: `https://127.0.0.1:${daemon.grpcPort}`, credentials: grpcTls(clientCert), metadata }), 'sdk-after-renewal'), 10);
    t.ok(await waitFor(async () => (await count("ServiceName = 'sdk-after-renewal'")) === 10), 'the SDK sends over the new certificate');
  });

  await t.test('limits: connections, concurrent streams, body size, slow headers and bodies', async (t) => {
    const dropped = async (receiver: string, transport: string) =>
      Number(new RegExp(`otelhouse_receiver_refused_requests_total\\{receiver="${receiver}",transport="${transport}",reason="too_many_connections"\\} (\\d+)`).exec(await metrics())?.[1] ?? 0);
    const droppedBefore = { grpc: await dropped('otlp', 'grpc'), http: await dropped('json_ingest', 'http') };
    const held: TLSSocket[] = [];
    t.teardown(() => held.forEach((s) => s.destroy()));
    // The SDK clients of the tests before were shut down, but grpc-js closes an unused connection
    // only at its subchannel pool's next sweep (every 10 s).
    const openAll = async () => {
      for (let i = 0; i < 3; i++) {
        const c = await tlsOpen(daemon.grpcPort, { ...clientCert, ALPNProtocols: ['h2'] });
        if ('socket' in c) held.push(c.socket);
      }
      if (held.length === 3) return true;
      for (const s of held.splice(0)) s.destroy();
      return false;
    };
    t.ok(await waitFor(openAll, 20_000, 200), 'gRPC: max_connections connections open');
    t.match(await tlsOpen(daemon.grpcPort, { ...clientCert, ALPNProtocols: ['h2'] }), { error: /ECONNRESET|closed|EPIPE/ }, 'gRPC: one more is closed at once');
    for (const s of held.splice(0)) s.destroy();
    for (let i = 0; i < 2; i++) {
      const c = await tlsOpen(ingestPort, {});
      if ('socket' in c) held.push(c.socket);
    }
    t.equal(held.length, 2, 'json_ingest: max_connections connections open');
    t.match(await tlsOpen(ingestPort, {}), { error: /ECONNRESET|closed|EPIPE/ }, 'json_ingest: one more is closed at once');
    for (const s of held.splice(0)) s.destroy();
    // An SDK channel of an earlier subtest may reconnect while the three are held and be refused too.
    const grpcRefused = (await dropped('otlp', 'grpc')) - droppedBefore.grpc;
    t.ok(grpcRefused >= 1, `counted for gRPC (${grpcRefused})`);
    t.equal(await dropped('json_ingest', 'http'), droppedBefore.http + 1, 'counted for HTTP');
    t.ok(
      await waitFor(async () => ((await https(ingestPort, '/logs/ingest', JSON.stringify({ org: 'a', message: 'after' }), { 'X-Api-Key': 'ingest-key-1' })) as HttpsAnswer).status === 200),
      'a connection is accepted again once others closed',
    );

    const session = http2Connect(`https://127.0.0.1:${daemon.grpcPort}`, { ca, ...clientCert });
    const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    session.destroy();
    t.equal(settings.maxConcurrentStreams, 7, 'gRPC announces max_concurrent_streams in its HTTP/2 SETTINGS');

    const big = await https(daemon.httpPort, '/v1/logs', Buffer.alloc(100_000, 1), { 'Content-Type': 'application/x-protobuf', Authorization: 'Bearer token-c' });
    t.match(big, { status: 413 }, 'HTTP: a body over max_request_body_size → 413');

    /** Sends the start of a request and never the rest; resolves with the answer's status line once the server closes. */
    const slow = async (head: string) => {
      const c = await tlsOpen(daemon.httpPort, {});
      if (!('socket' in c)) return c.error;
      const chunks: Buffer[] = [];
      c.socket.on('data', (d: Buffer) => chunks.push(d));
      c.socket.write(head);
      await new Promise((resolve) => c.socket.once('close', resolve));
      return Buffer.concat(chunks).toString('latin1').split('\r\n')[0];
    };
    t.equal(await slow('POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n'), 'HTTP/1.1 408 Request Timeout', 'headers that never end: 408, then closed');
    const slowBody = await slow('POST /v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token-c\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789');
    t.equal(slowBody, 'HTTP/1.1 408 Request Timeout', 'a body that never ends: 408, then closed');
    t.equal(await count("ServiceName = 'intruder'"), 0, 'still nothing stored from refused requests');
  });
});
