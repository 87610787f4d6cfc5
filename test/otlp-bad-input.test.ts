import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import t from 'tap';
import { encodeLogsRequest, encodeLogsRequestJson } from '../src/otlp/index.js';
import { PROJECT_ROOT } from './support/cli.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from './support/daemon.js';
import { grpcExport, numberedBatch } from './support/otlp-requests.js';

const statusType = protobuf.loadSync(`${PROJECT_ROOT}/proto/google/rpc/status.proto`).lookupType('google.rpc.Status');

function yaml(path: string): string {
  return `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        max_recv_msg_size_mib: 1
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 1048576
processors:
  batch:
    send_batch_size: 100
    timeout: 50ms
exporters:
  clickhouse:
    endpoint: embedded://${path}
service:
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics:
      address: 127.0.0.1:0
`;
}

t.test('bad requests get the right status and message; valid ones alongside are stored intact', async (t) => {
  const path = tempDir('badinput');
  const daemon = await startTestDaemon(yaml(path));
  t.teardown(() => daemon.stop());
  const url = `http://127.0.0.1:${daemon.httpPort}/v1/logs`;
  const post = (body: Uint8Array | string, headers: Record<string, string>) => fetch(url, { method: 'POST', body, headers });
  const proto = { 'Content-Type': 'application/x-protobuf' };
  const json = { 'Content-Type': 'application/json' };

  const valid = [
    () => post(encodeLogsRequest(numberedBatch(0, 100)), proto),
    () => post(encodeLogsRequestJson(numberedBatch(100, 100)), json),
    () => post(gzipSync(encodeLogsRequest(numberedBatch(200, 100))), { ...proto, 'Content-Encoding': 'gzip' }),
    () => post(gzipSync(encodeLogsRequestJson(numberedBatch(300, 100))), { ...json, 'Content-Encoding': 'gzip' }),
  ];
  const gzipped = gzipSync(encodeLogsRequest(numberedBatch(1000, 50)));
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x41));
  const bad: Array<[string, () => Promise<Response>, number, RegExp, 'proto' | 'json']> = [
    ['garbage protobuf', () => post(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]), proto), 400, /invalid protobuf|index out of range|invalid wire type|length/i, 'proto'],
    ['truncated gzip', () => post(gzipped.subarray(0, gzipped.length >> 1), { ...proto, 'Content-Encoding': 'gzip' }), 400, /cannot decompress gzip body/, 'proto'],
    ['wrong content type', () => post('hello', { 'Content-Type': 'text/plain' }), 415, /unsupported content type "text\/plain"/, 'json'],
    ['oversize body', () => post(Buffer.alloc(2 * 1024 * 1024, 1), proto), 413, /exceeds max_request_body_size/, 'proto'],
    ['gzip bomb', () => post(bomb, { ...proto, 'Content-Encoding': 'gzip' }), 413, /decompressed body exceeds max_request_body_size/, 'proto'],
    ['invalid JSON', () => post('{"resourceLogs": [', json), 400, /JSON/, 'json'],
    ['JSON of the wrong shape', () => post('{"resourceLogs": 7}', json), 400, /resourceLogs/, 'json'],
    ['unknown content encoding', () => post('x', { ...proto, 'Content-Encoding': 'br' }), 415, /unsupported Content-Encoding "br"/, 'proto'],
  ];

  const results = await Promise.all([...valid.map((send) => send()), ...bad.map(([, send]) => send())]);
  for (let i = 0; i < valid.length; i++) t.equal(results[i]!.status, 200, `valid request ${i} accepted`);
  for (let i = 0; i < bad.length; i++) {
    const [name, , status, message, encoding] = bad[i]!;
    const res = results[valid.length + i]!;
    t.equal(res.status, status, `${name}: HTTP ${status}`);
    if (encoding === 'json') {
      t.equal(res.headers.get('content-type'), 'application/json', `${name}: answered in JSON`);
      const body = (await res.json()) as { message: string };
      t.match(body.message, message, `${name}: Status message says why`);
    } else {
      t.equal(res.headers.get('content-type'), 'application/x-protobuf', `${name}: answered in protobuf`);
      const body = statusType.decode(new Uint8Array(await res.arrayBuffer())) as unknown as { message: string };
      t.match(body.message, message, `${name}: Status message says why`);
    }
  }

  const partial = await post(
    JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'partial' } }] },
          scopeLogs: [
            {
              logRecords: [
                { timeUnixNano: '1700000000000000001', body: { stringValue: 'good one' }, attributes: [{ key: 'seq', value: { intValue: '5000' } }] },
                { timeUnixNano: '1700000000000000002', body: { stringValue: 'bad trace id' }, traceId: 'abc' },
                { time_unix_nano: 'RAW_64_BIT_NUMBER', body: { string_value: 'snake case' }, attributes: [{ key: 'seq', value: { int_value: 5001 } }] },
              ],
            },
          ],
        },
      ],
    }).replace('"RAW_64_BIT_NUMBER"', '1700000000000000003'),
    json,
  );
  t.equal(partial.status, 200, 'a request with one invalid record is accepted');
  const partialBody = (await partial.json()) as { partialSuccess?: { rejectedLogRecords: string | number; errorMessage: string } };
  t.equal(Number(partialBody.partialSuccess?.rejectedLogRecords), 1, 'partial_success counts the rejected record');
  t.match(partialBody.partialSuccess?.errorMessage, /traceId/, 'and says why');

  const notFound = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/traces`, { method: 'POST', body: '{}', headers: json });
  t.equal(notFound.status, 404);
  const wrongMethod = await fetch(url);
  t.equal(wrongMethod.status, 405);

  const garbage = await grpcExport(daemon.grpcPort, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
  t.equal(garbage.code, grpc.status.INVALID_ARGUMENT, 'gRPC: garbage → INVALID_ARGUMENT');
  t.match(garbage.details, /invalid protobuf|index out of range|invalid wire type|length/i);
  const oversize = await grpcExport(daemon.grpcPort, Buffer.from(encodeLogsRequest(numberedBatch(0, 20_000))));
  t.equal(oversize.code, grpc.status.RESOURCE_EXHAUSTED, 'gRPC: over max_recv_msg_size_mib → RESOURCE_EXHAUSTED');
  t.match(oversize.details, /larger than max/i);
  const ok = await grpcExport(daemon.grpcPort, Buffer.from(encodeLogsRequest(numberedBatch(400, 100))));
  t.equal(ok.code, grpc.status.OK, 'gRPC: a valid request after them works');

  const client = embeddedClient(path);
  t.teardown(() => client.close());
  const expectedCount = 500 + 2;
  t.ok(
    await waitFor(async () => {
      const [r] = await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs');
      return Number(r!.n) >= expectedCount;
    }),
    'valid records arrive',
  );
  const [summary] = await queryRows<{ n: string; distinct_seq: string; min_seq: string; max_seq: string; bodies_ok: string }>(
    client,
    `SELECT toString(count()) AS n, toString(uniqExact(LogAttributes['seq'])) AS distinct_seq,
            toString(min(toUInt64(LogAttributes['seq']))) AS min_seq, toString(maxIf(toUInt64(LogAttributes['seq']), ServiceName = 'loadgen')) AS max_seq,
            toString(countIf(Body = concat('request ', LogAttributes['seq'], ' served in ', toString(toUInt64(LogAttributes['seq']) % 97), 'ms from 10.0.', toString(toUInt64(LogAttributes['seq']) % 255), '.', toString(toUInt64(LogAttributes['seq']) % 7)))) AS bodies_ok
     FROM otel.otel_logs`,
  );
  t.same(summary, { n: String(expectedCount), distinct_seq: String(expectedCount), min_seq: '0', max_seq: '499', bodies_ok: '500' }, 'exactly the valid records, intact');
  const [snake] = await queryRows<{ Body: string; ts: string }>(client, "SELECT Body, toString(toUnixTimestamp64Nano(Timestamp)) AS ts FROM otel.otel_logs WHERE LogAttributes['seq'] = '5001'");
  t.same(snake, { Body: 'snake case', ts: '1700000000000000003' }, 'snake_case JSON with a 64-bit number timestamp is exact');
});
