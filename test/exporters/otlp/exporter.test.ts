import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import t from 'tap';
import { loadConfig } from '../../../src/daemon.js';
import { otlpExporterFactory, otlpHttpExporterFactory } from '../../../src/exporters/otlp/index.js';
import type { Exporter } from '../../../src/pipeline/component.js';
import { ConfigError } from '../../../src/config/errors.js';
import { Telemetry } from '../../../src/telemetry/metrics.js';
import { makeCertificates } from '../../support/certs.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { numberedBatch } from '../../support/otlp-requests.js';
import { ScriptedOtlpServer, type ScriptedAnswer } from '../../support/scripted-otlp-server.js';
import { SELECT_ROWS, emitWithSdk, type SdkProtocol } from '../../support/sdk.js';

interface RunningExporter {
  exporter: Exporter;
  counts: Record<string, number>;
}

/** An otlp exporter on its own, with fast retries unless the test says otherwise. */
async function startExporter(
  t: { teardown(fn: () => unknown): void },
  config: Record<string, unknown>,
  factory: typeof otlpExporterFactory | typeof otlpHttpExporterFactory = otlpExporterFactory,
): Promise<RunningExporter> {
  const parsed = factory.configSchema.parse({ retry_on_failure: { initial_interval: '20ms', max_interval: '100ms', max_elapsed_time: '30s' }, ...config });
  const telemetry = new Telemetry().forComponent('exporter', factory.type);
  const exporter = factory.create(parsed, { id: factory.type, kind: 'exporter', logger: pino({ level: process.env.OTELHOUSE_TEST_LOG_LEVEL ?? 'silent' }), telemetry });
  await exporter.start();
  t.teardown(() => exporter.shutdown(Date.now() + 2000));
  return { exporter, counts: telemetry.counts };
}

const settled = (counts: Record<string, number>, n: number) => waitFor(async () => (counts['exported'] ?? 0) + (counts['failed'] ?? 0) >= n, 20_000, 10);

t.test('agent → gateway: every field the SDK sent reaches ClickHouse through the otlp exporter', async (t) => {
  const store = tempDir('otlp-forward');
  const gateway = await startTestDaemon(`
receivers: { otlp: { protocols: { grpc: { endpoint: 127.0.0.1:0 }, http: { endpoint: 127.0.0.1:0 } } } }
processors: { batch: { send_batch_size: 100, timeout: 50ms } }
exporters: { clickhouse: { endpoint: "embedded://${store}" } }
service:
  pipelines: { logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] } }
  telemetry: { metrics: { address: 127.0.0.1:0 } }
`);
  t.teardown(() => gateway.stop());
  // Each SDK protocol gives its own service.name; each agent forwards with another exporter setting.
  const variants: Array<{ sdk: SdkProtocol; exporter: string }> = [
    { sdk: 'grpc', exporter: `otlp: { endpoint: "127.0.0.1:${gateway.grpcPort}", tls: { insecure: true }, compression: gzip }` },
    { sdk: 'http/protobuf', exporter: `otlp: { protocol: http/protobuf, endpoint: "http://127.0.0.1:${gateway.httpPort}", compression: deflate }` },
    { sdk: 'http/json', exporter: `otlphttp: { endpoint: "http://127.0.0.1:${gateway.httpPort}", compression: none }` },
  ];
  const client = embeddedClient(store);
  t.teardown(() => client.close());
  for (const v of variants) {
    const exporterId = v.exporter.split(':')[0]!;
    const agent = await startTestDaemon(`
receivers: { otlp: { protocols: { grpc: { endpoint: 127.0.0.1:0 }, http: { endpoint: 127.0.0.1:0 } } } }
processors: { batch: { send_batch_size: 20, timeout: 50ms } }
exporters: { ${v.exporter} }
service:
  pipelines: { logs: { receivers: [otlp], processors: [batch], exporters: [${exporterId}] } }
  telemetry: { metrics: { address: 127.0.0.1:0 } }
`);
    const expected = await emitWithSdk(v.sdk, agent, 30);
    await agent.stop();
    const service = expected[0]!.ServiceName;
    t.ok(await waitFor(async () => (await queryRows(client, SELECT_ROWS('otel', service))).length === expected.length), `${exporterId} (${v.sdk} in): all rows stored`);
    const rows = await queryRows(client, SELECT_ROWS('otel', service));
    t.same(rows, expected, `${v.exporter.slice(0, 40)}…: rows equal what the SDK sent`);
  }
});

interface ScriptCase {
  name: string;
  answers: ScriptedAnswer[];
  /** Requests the server sees for one batch of 10. */
  requests: number;
  exported: number;
  failed: number;
  /** The server's asked-for wait: the retry must not come sooner. */
  minGapMs?: number;
  /** Answers the exporter could not read (counted in /stats). */
  unreadable?: number;
}

/** A length-delimited field whose length runs past the end: no protobuf decoder can read it. */
const UNREADABLE = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]);

const GRPC_CASES: ScriptCase[] = [
  { name: 'accepted', answers: [], requests: 1, exported: 10, failed: 0 },
  { name: 'partial_success: rejected records counted, not resent', answers: [{ kind: 'partial', rejected: 3, message: 'bad timestamps' }], requests: 1, exported: 7, failed: 3 },
  { name: 'partial_success with only a warning', answers: [{ kind: 'partial', rejected: 0, message: 'slow down' }], requests: 1, exported: 10, failed: 0 },
  {
    name: 'RESOURCE_EXHAUSTED with RetryInfo: retried after the delay',
    answers: [{ kind: 'grpc-error', code: grpc.status.RESOURCE_EXHAUSTED, message: 'queue full', retryDelayMs: 400 }],
    requests: 2,
    exported: 10,
    failed: 0,
    minGapMs: 400,
  },
  {
    name: 'UNAVAILABLE with RetryInfo: retried after the delay',
    answers: [{ kind: 'grpc-error', code: grpc.status.UNAVAILABLE, message: 'draining', retryDelayMs: 300 }],
    requests: 2,
    exported: 10,
    failed: 0,
    minGapMs: 300,
  },
  {
    name: 'UNAVAILABLE twice: retried with back-off',
    answers: [
      { kind: 'grpc-error', code: grpc.status.UNAVAILABLE, message: 'down' },
      { kind: 'grpc-error', code: grpc.status.UNAVAILABLE, message: 'down' },
    ],
    requests: 3,
    exported: 10,
    failed: 0,
  },
  {
    name: 'RESOURCE_EXHAUSTED without RetryInfo: permanent',
    answers: [{ kind: 'grpc-error', code: grpc.status.RESOURCE_EXHAUSTED, message: 'message too large' }],
    requests: 1,
    exported: 0,
    failed: 10,
  },
  { name: 'INVALID_ARGUMENT: permanent', answers: [{ kind: 'grpc-error', code: grpc.status.INVALID_ARGUMENT, message: 'cannot decode' }], requests: 1, exported: 0, failed: 10 },
  { name: 'UNAUTHENTICATED: permanent', answers: [{ kind: 'grpc-error', code: grpc.status.UNAUTHENTICATED, message: 'no token' }], requests: 1, exported: 0, failed: 10 },
  {
    name: 'OK with an unreadable answer: accepted, not resent, not failed, and the agent lives',
    answers: [{ kind: 'unreadable', body: UNREADABLE }],
    requests: 1,
    exported: 10,
    failed: 0,
    unreadable: 1,
  },
  { name: 'partial_success with a negative count: accepted', answers: [{ kind: 'partial', rejected: -5, message: 'confused' }], requests: 1, exported: 10, failed: 0 },
  { name: 'partial_success rejecting more than was sent: all rejected', answers: [{ kind: 'partial', rejected: 50, message: 'confused' }], requests: 1, exported: 0, failed: 10 },
];

const HTTP_CASES: ScriptCase[] = [
  { name: 'accepted', answers: [], requests: 1, exported: 10, failed: 0 },
  { name: 'partial_success: rejected records counted, not resent', answers: [{ kind: 'partial', rejected: 4, message: 'too old' }], requests: 1, exported: 6, failed: 4 },
  {
    name: '429 with Retry-After: retried after the delay',
    answers: [{ kind: 'http-error', status: 429, message: 'queue full', retryAfter: '1' }],
    requests: 2,
    exported: 10,
    failed: 0,
    minGapMs: 1000,
  },
  {
    name: '503 with a Retry-After date: retried after it',
    answers: [{ kind: 'http-error', status: 503, message: 'draining', retryAfter: new Date(Date.now() + 60_000).toUTCString() }],
    requests: 2,
    exported: 10,
    failed: 0,
  },
  {
    name: '502 and 504: retried',
    answers: [
      { kind: 'http-error', status: 502, message: 'bad gateway' },
      { kind: 'http-error', status: 504, message: 'timeout' },
    ],
    requests: 3,
    exported: 10,
    failed: 0,
  },
  { name: '400: permanent', answers: [{ kind: 'http-error', status: 400, message: 'cannot decode' }], requests: 1, exported: 0, failed: 10 },
  { name: '401: permanent', answers: [{ kind: 'http-error', status: 401, message: 'no token' }], requests: 1, exported: 0, failed: 10 },
  { name: '200 with an unreadable protobuf body: accepted, not failed', answers: [{ kind: 'unreadable', body: UNREADABLE }], requests: 1, exported: 10, failed: 0, unreadable: 1 },
  {
    name: "200 with a proxy's HTML page: accepted, not failed",
    answers: [{ kind: 'unreadable', body: Buffer.from('<html><body>OK</body></html>'), contentType: 'text/html' }],
    requests: 1,
    exported: 10,
    failed: 0,
    unreadable: 1,
  },
];

for (const protocol of ['grpc', 'http/protobuf'] as const) {
  t.test(`${protocol}: what the exporter does with each server answer`, async (t) => {
    const server = new ScriptedOtlpServer();
    const port = protocol === 'grpc' ? await server.startGrpc() : await server.startHttp();
    t.teardown(() => server.close());
    const endpoint = `http://127.0.0.1:${port}`;
    for (const c of protocol === 'grpc' ? GRPC_CASES : HTTP_CASES) {
      // A Retry-After date is an absolute time: give it a short, fresh one.
      const answers = c.answers.map((a) => (a.kind === 'http-error' && a.retryAfter?.includes('GMT') ? { ...a, retryAfter: new Date(Date.now() + 2000).toUTCString() } : a));
      server.answers.splice(0, server.answers.length, ...answers);
      server.requests.length = 0;
      const { exporter, counts } = await startExporter(t, { protocol, endpoint, headers: { authorization: 'Bearer s3cret', 'x-tenant': 'acme' } });
      await exporter.consume(numberedBatch(1, 10));
      t.ok(await settled(counts, 10), `${c.name}: settled`);
      t.equal(server.requests.length, c.requests, `${c.name}: requests`);
      t.equal(counts['exported'] ?? 0, c.exported, `${c.name}: exported`);
      t.equal(counts['failed'] ?? 0, c.failed, `${c.name}: failed`);
      t.equal(counts['unreadable_responses'] ?? 0, c.unreadable ?? 0, `${c.name}: unreadable answers counted`);
      t.same(server.requests[0]!.seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `${c.name}: the records`);
      t.equal(server.requests[0]!.headers['authorization'], 'Bearer s3cret', `${c.name}: headers sent`);
      t.equal(server.requests[0]!.headers['x-tenant'], 'acme');
      if (protocol === 'http/protobuf') t.equal(server.requests[0]!.headers['content-encoding'], 'gzip', `${c.name}: gzip by default`);
      if (c.minGapMs !== undefined) t.ok(server.requests[1]!.at - server.requests[0]!.at >= c.minGapMs - 5, `${c.name}: waited at least ${c.minGapMs} ms as told`);
      await exporter.shutdown(Date.now() + 2000);
    }
  });
}

t.test('an unreachable server: retried until it comes, nothing lost', async (t) => {
  const server = new ScriptedOtlpServer();
  // Find a free port, then start nothing on it until the exporter has failed a few times.
  const probe = new ScriptedOtlpServer();
  const port = await probe.startHttp();
  await probe.close();
  const { exporter, counts } = await startExporter(t, { protocol: 'http/protobuf', endpoint: `http://127.0.0.1:${port}` });
  await exporter.consume(numberedBatch(1, 10));
  t.ok(await waitFor(async () => (counts['retries'] ?? 0) >= 3, 20_000, 10), 'retries while nothing listens');
  t.equal(exporter.health!().status, 'degraded', '/health says degraded while exports fail');
  t.match(exporter.health!().detail, /ECONNREFUSED/);
  await server.startHttp({ port });
  t.teardown(() => server.close());
  t.ok(await settled(counts, 10));
  t.equal(counts['exported'], 10);
  t.same(
    server.requests.flatMap((r) => r.seqs),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  t.equal(exporter.health!().status, 'ok');
});

t.test('TLS: server certificates checked against ca_file, client certificates sent for mTLS', async (t) => {
  const dir = tempDir('otlp-tls');
  makeCertificates(dir);
  const pem = (name: string) => readFileSync(join(dir, name));
  const files = { ca_file: join(dir, 'ca.crt'), cert_file: join(dir, 'client.crt'), key_file: join(dir, 'client.key') };

  const grpcServer = new ScriptedOtlpServer();
  const grpcPort = await grpcServer.startGrpc(grpc.ServerCredentials.createSsl(pem('ca.crt'), [{ private_key: pem('server.key'), cert_chain: pem('server.crt') }], true));
  t.teardown(() => grpcServer.close());
  const good = await startExporter(t, { endpoint: `127.0.0.1:${grpcPort}`, tls: files });
  await good.exporter.consume(numberedBatch(1, 10));
  t.ok(await settled(good.counts, 10));
  t.equal(good.counts['exported'], 10, 'gRPC with mTLS: delivered');

  // No client certificate: the server refuses the handshake; the exporter keeps retrying.
  const noCert = await startExporter(t, { endpoint: `127.0.0.1:${grpcPort}`, tls: { ca_file: files.ca_file } });
  await noCert.exporter.consume(numberedBatch(11, 10));
  t.ok(await waitFor(async () => (noCert.counts['retries'] ?? 0) >= 2, 20_000, 10), 'gRPC without a client certificate: refused, retried');
  t.equal(noCert.counts['exported'] ?? 0, 0);

  // The system CAs do not know our test CA.
  const unknownCa = await startExporter(t, { endpoint: `https://127.0.0.1:${grpcPort}`, tls: { cert_file: files.cert_file, key_file: files.key_file } });
  await unknownCa.exporter.consume(numberedBatch(21, 10));
  t.ok(await waitFor(async () => (unknownCa.counts['retries'] ?? 0) >= 2, 20_000, 10), 'gRPC with an unknown server CA: refused');
  t.equal(unknownCa.counts['exported'] ?? 0, 0);
  t.same(
    grpcServer.requests.flatMap((r) => r.seqs),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    'only the mTLS exporter got through',
  );

  const httpsServer = new ScriptedOtlpServer();
  const httpsPort = await httpsServer.startHttp({ tls: { key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt') } });
  t.teardown(() => httpsServer.close());
  const https = await startExporter(t, { protocol: 'http/protobuf', endpoint: `https://127.0.0.1:${httpsPort}`, tls: files });
  await https.exporter.consume(numberedBatch(31, 10));
  t.ok(await settled(https.counts, 10));
  t.equal(https.counts['exported'], 10, 'HTTPS with mTLS: delivered');
  const httpsNoCert = await startExporter(t, { endpoint: `https://127.0.0.1:${httpsPort}`, tls: { ca_file: files.ca_file } }, otlpHttpExporterFactory);
  await httpsNoCert.exporter.consume(numberedBatch(41, 10));
  t.ok(await waitFor(async () => (httpsNoCert.counts['retries'] ?? 0) >= 2, 20_000, 10), 'HTTPS without a client certificate: refused, retried');
  t.same(
    httpsServer.requests.flatMap((r) => r.seqs),
    [31, 32, 33, 34, 35, 36, 37, 38, 39, 40],
  );
});

t.test('config errors name the key and the reason', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['otlp: { tls: { insecure: true } }', /exporters\.otlp\.endpoint: required: the address of the OTLP server/],
    ['otlp: { endpoint: "gateway" }', /exporters\.otlp\.endpoint: expected host:port, dns:\/\/\/host:port or http\(s\):\/\/host:port/],
    ['otlp: { endpoint: "gateway:4317", logs_endpoint: "http://x/v1/logs" }', /exporters\.otlp\.logs_endpoint: only for protocol http\/protobuf/],
    ['otlp: { protocol: http/protobuf, endpoint: "gateway:4318" }', /exporters\.otlp\.endpoint: expected an http\(s\):\/\/ URL/],
    ['otlphttp: { endpoint: "ftp://gateway" }', /exporters\.otlphttp\.endpoint: expected an http\(s\):\/\/ URL/],
    ['otlp: { endpoint: "gateway:4317", protocol: http/json }', /exporters\.otlp\.protocol: expected one of grpc, http\/protobuf/],
    ['otlp: { endpoint: "gateway:4317", compression: zstd }', /exporters\.otlp\.compression: zstd compression needs Node\.js 22\.15/],
    ['otlp: { endpoint: "gateway:4317", compression: brotli }', /exporters\.otlp\.compression: expected gzip, deflate or none/],
    ['otlp: { endpoint: "gateway:4317", tls: { cert_file: /c.pem } }', /exporters\.otlp\.tls\.key_file: cert_file and key_file go together/],
    ['otlp: { endpoint: "gateway:4317", headers: { "bad header": x } }', /exporters\.otlp\.headers\.bad header: not a valid header name/],
    ['otlp: { endpoint: "gateway:4317", balancer_name: random }', /exporters\.otlp\.balancer_name: expected round_robin or pick_first/],
    ['otlp: { endpoint: "gateway:4317", sending_queue: { queue_sise: 5 } }', /exporters\.otlp\.sending_queue\.queue_sise: unknown key/],
  ];
  for (const [exporter, expected] of cases) {
    const id = exporter.split(':')[0]!;
    const yaml = `receivers: { otlp: { protocols: { grpc: } } }\nexporters: { ${exporter} }\nservice: { pipelines: { logs: { receivers: [otlp], exporters: [${id}] } } }\n`;
    const err = t.throws(() => loadConfig({ text: yaml }, {}));
    t.ok(err instanceof ConfigError, exporter);
    t.match((err as Error).message, expected, exporter);
  }
});
