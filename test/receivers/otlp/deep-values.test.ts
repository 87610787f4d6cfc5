import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { decodeLogsResponse, encodeLogsRequest, encodeLogsRequestJson } from '../../../src/otlp/index.js';
import { MAX_VALUE_DEPTH } from '../../../src/pipeline/limits.js';
import type { AnyValue, LogBatch } from '../../../src/pipeline/model.js';
import { embeddedClient, pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { numberedBatch } from '../../support/otlp-requests.js';

const EXPORT_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

/** One Export call that resolves with the ExportLogsServiceResponse bytes (or the error status). */
function grpcExportAnswer(port: number, body: Uint8Array): Promise<{ code: grpc.status; details: string; response: Buffer | undefined }> {
  const Client = grpc.makeGenericClientConstructor({}, 'LogsService');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const identity = (b: Buffer) => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest(EXPORT_PATH, identity, identity, Buffer.from(body), new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err: grpc.ServiceError | null, response?: Buffer) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details, response: undefined } : { code: grpc.status.OK, details: '', response });
    });
  });
}

function nestedArrays(depth: number): AnyValue {
  let v: AnyValue = 'leaf';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Three records tagged with seq first…first+2 for `service`; the middle one's body nests one level too deep. */
function withTooDeepMiddle(first: number, service: string): LogBatch {
  const batch = numberedBatch(first, 3, service);
  batch.resourceLogs[0]!.scopeLogs[0]!.logRecords[1]!.body = nestedArrays(MAX_VALUE_DEPTH + 1);
  return batch;
}

t.test('a record nested too deep is refused alone, over OTLP/HTTP protobuf, gRPC and JSON alike', async (t) => {
  const dir = tempDir('deep-values');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: `"embedded://${dir}/store"` }));
  t.teardown(() => daemon.stop());
  const store = embeddedClient(`${dir}/store`);
  t.teardown(() => store.close());
  const reason = /^resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[1\]\.body.*values nested deeper than 30 levels$/;

  const proto = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-protobuf' },
    body: encodeLogsRequest(withTooDeepMiddle(0, 'deep-http')),
  });
  t.equal(proto.status, 200, 'OTLP/HTTP protobuf: the request is accepted');
  t.match(decodeLogsResponse(new Uint8Array(await proto.arrayBuffer())), { rejectedLogRecords: 1, errorMessage: reason }, 'its partial_success counts the one record and says why');

  const overGrpc = await grpcExportAnswer(daemon.grpcPort, encodeLogsRequest(withTooDeepMiddle(10, 'deep-grpc')));
  t.equal(overGrpc.code, grpc.status.OK, 'gRPC: the request is accepted');
  t.match(decodeLogsResponse(overGrpc.response!), { rejectedLogRecords: 1, errorMessage: reason }, 'gRPC: partial_success likewise');

  const json = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: encodeLogsRequestJson(withTooDeepMiddle(20, 'deep-json')),
  });
  t.equal(json.status, 200, 'OTLP/JSON: the request is accepted');
  t.match(await json.json(), { partialSuccess: { rejectedLogRecords: '1', errorMessage: reason } }, 'OTLP/JSON: the same partial_success');

  const stored = async () => queryRows<{ ServiceName: string; seq: string }>(store, "SELECT ServiceName, LogAttributes['seq'] AS seq FROM otel.otel_logs ORDER BY ServiceName, toUInt64(seq)");
  t.ok(await waitFor(async () => (await stored()).length === 6), 'the six neighbours are stored');
  t.same(
    (await stored()).map((r) => `${r.ServiceName} ${r.seq}`),
    ['deep-grpc 10', 'deep-grpc 12', 'deep-http 0', 'deep-http 2', 'deep-json 20', 'deep-json 22'],
    'exactly the neighbours of the record nested too deep',
  );
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_receiver_refused_log_records_total\{receiver="otlp",transport="http",reason="invalid"\} 2\n/, 'the HTTP refusals are counted');
  t.match(metrics, /otelhouse_receiver_refused_log_records_total\{receiver="otlp",transport="grpc",reason="invalid"\} 1\n/, 'the gRPC one too');
});
