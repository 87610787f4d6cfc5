import { writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { encodeLogsRequest } from '../../../src/otlp/index.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { grpcExport, numberedBatch } from '../../support/otlp-requests.js';

const dir = tempDir('token-file');
const tokensFile = `${dir}/tokens`;
// Operators annotate token files; neither the annotations nor the blank lines are tokens.
writeFileSync(tokensFile, '# comment\n\n   \n#\ntoken-a\n  # rotated on 2026-01-01\n');

const YAML = `
extensions:
  bearertokenauth: { filename: ${tokensFile} }
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:0, auth: { authenticator: bearertokenauth } }
      http: { endpoint: 127.0.0.1:0, auth: { authenticator: bearertokenauth } }
processors:
  batch: { send_batch_size: 100, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${dir}/store" }
service:
  extensions: [bearertokenauth]
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;

t.test('comment and blank lines of a token file are not tokens', async (t) => {
  const daemon = await startTestDaemon(YAML);
  t.teardown(() => daemon.stop());
  const store = embeddedClient(`${dir}/store`);
  t.teardown(() => store.close());
  const count = async (service: string) => Number((await queryRows<{ n: string }>(store, `SELECT toString(count()) AS n FROM otel.otel_logs WHERE ServiceName = '${service}'`))[0]!.n);
  const request = (first: number, service: string) => encodeLogsRequest(numberedBatch(first, 10, service));
  const post = (token: string, body: Uint8Array) =>
    fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/x-protobuf', Authorization: `Bearer ${token}` }, body });

  for (const token of ['# comment', '#', '# rotated on 2026-01-01']) {
    t.equal((await post(token, request(0, 'intruder'))).status, 401, `HTTP: "${token}" → 401`);
    const answer = await grpcExport(daemon.grpcPort, request(0, 'intruder'), { metadata: { authorization: `Bearer ${token}` } });
    t.equal(answer.code, grpc.status.UNAUTHENTICATED, `gRPC: "${token}" → UNAUTHENTICATED`);
  }

  t.equal((await post('token-a', request(100, 'trusted'))).status, 200, 'HTTP: the real token passes');
  t.equal((await grpcExport(daemon.grpcPort, request(200, 'trusted'), { metadata: { authorization: 'Bearer token-a' } })).code, grpc.status.OK, 'gRPC: the real token passes');
  t.ok(await waitFor(async () => (await count('trusted')) === 20), 'the 20 records sent with the real token are stored');
  t.equal(await count('intruder'), 0, 'nothing sent with a comment line as token is stored');
});
