import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import t from 'tap';
import zstdNapi from 'zstd-napi';
import { OtlpDecodeError, decodeLogsRequest, decodeLogsRequestJson, encodeLogsRequest, encodeLogsRequestJson } from '../../../src/otlp/index.js';
import { MAX_VALUE_DEPTH } from '../../../src/pipeline/limits.js';
import { benchmarkBatch } from '../../../bench/workload.js';
import { PROJECT_ROOT } from '../../support/cli.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { concat, concatAll, fuzzCases, fuzzSeed, lenField, mutateJsonText, mutateJsonTree, mutateProtobuf, nestedBodyRequest, nestedJsonValue, seededRandom, zstdRleBomb } from '../../support/fuzz.js';
import { grpcExport, numberedBatch } from '../../support/otlp-requests.js';

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

// One daemon for the file: chDB opens one data directory per process.
const path = tempDir('badinput');
const daemon = await startTestDaemon(yaml(path));
t.teardown(() => daemon.stop());
const client = embeddedClient(path);
t.teardown(() => client.close());
const countRows = async () => Number((await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n);

t.test('bad requests get the right status and message; valid ones alongside are stored intact', async (t) => {
  const url = `http://127.0.0.1:${daemon.httpPort}/v1/logs`;
  const post = (body: Uint8Array | string, headers: Record<string, string>) => fetch(url, { method: 'POST', body, headers });
  const proto = { 'Content-Type': 'application/x-protobuf' };
  const json = { 'Content-Type': 'application/json' };

  const valid = [
    () => post(encodeLogsRequest(numberedBatch(0, 100)), proto),
    () => post(encodeLogsRequestJson(numberedBatch(100, 100)), json),
    () => post(gzipSync(encodeLogsRequest(numberedBatch(200, 100))), { ...proto, 'Content-Encoding': 'gzip' }),
    () => post(gzipSync(encodeLogsRequestJson(numberedBatch(300, 100))), { ...json, 'Content-Encoding': 'gzip' }),
    () => post(zstdNapi.compress(encodeLogsRequest(numberedBatch(500, 100))), { ...proto, 'Content-Encoding': 'zstd' }),
  ];
  const gzipped = gzipSync(encodeLogsRequest(numberedBatch(1000, 50)));
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x41));
  const bad: Array<[string, () => Promise<Response>, number, RegExp, 'proto' | 'json']> = [
    ['garbage protobuf', () => post(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]), proto), 400, /invalid protobuf|index out of range|invalid wire type|length/i, 'proto'],
    ['truncated gzip', () => post(gzipped.subarray(0, gzipped.length >> 1), { ...proto, 'Content-Encoding': 'gzip' }), 400, /cannot decompress gzip body/, 'proto'],
    ['wrong content type', () => post('hello', { 'Content-Type': 'text/plain' }), 415, /unsupported content type "text\/plain"/, 'json'],
    ['oversize body', () => post(Buffer.alloc(2 * 1024 * 1024, 1), proto), 413, /exceeds max_request_body_size/, 'proto'],
    ['gzip bomb', () => post(bomb, { ...proto, 'Content-Encoding': 'gzip' }), 413, /decompressed body exceeds max_request_body_size/, 'proto'],
    ['zstd bomb', () => post(zstdRleBomb(12_288), { ...proto, 'Content-Encoding': 'zstd' }), 413, /decompressed body exceeds max_request_body_size/, 'proto'],
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

  const expectedCount = 600 + 2;
  t.ok(await waitFor(async () => (await countRows()) >= expectedCount), 'valid records arrive');
  const [summary] = await queryRows<{ n: string; distinct_seq: string; min_seq: string; max_seq: string; bodies_ok: string }>(
    client,
    `SELECT toString(count()) AS n, toString(uniqExact(LogAttributes['seq'])) AS distinct_seq,
            toString(min(toUInt64(LogAttributes['seq']))) AS min_seq, toString(maxIf(toUInt64(LogAttributes['seq']), ServiceName = 'loadgen')) AS max_seq,
            toString(countIf(Body = concat('request ', LogAttributes['seq'], ' served in ', toString(toUInt64(LogAttributes['seq']) % 97), 'ms from 10.0.', toString(toUInt64(LogAttributes['seq']) % 255), '.', toString(toUInt64(LogAttributes['seq']) % 7)))) AS bodies_ok
     FROM otel.otel_logs`,
  );
  t.same(summary, { n: String(expectedCount), distinct_seq: String(expectedCount), min_seq: '0', max_seq: '599', bodies_ok: '600' }, 'exactly the valid records, intact');
  const [snake] = await queryRows<{ Body: string; ts: string }>(client, "SELECT Body, toString(toUnixTimestamp64Nano(Timestamp)) AS ts FROM otel.otel_logs WHERE LogAttributes['seq'] = '5001'");
  t.same(snake, { Body: 'snake case', ts: '1700000000000000003' }, 'snake_case JSON with a 64-bit number timestamp is exact');
});

const MAX_BODY = 1024 * 1024;

interface FuzzCase {
  name: string;
  transport: 'http' | 'grpc';
  encoding: 'protobuf' | 'json';
  body: Uint8Array;
  gzip: boolean;
}

/** What the receivers must answer for a body: decided by the decoder itself, in this process. */
function expectedOutcome(c: FuzzCase): { status: 'ok' | 'invalid' | 'too_large'; records: number } | { untyped: string } {
  const sent = c.gzip ? gzipSync(c.body) : c.body;
  if (sent.length > MAX_BODY || c.body.length > MAX_BODY) return { status: 'too_large', records: 0 };
  try {
    const decoded = c.encoding === 'json' ? decodeLogsRequestJson(c.body) : decodeLogsRequest(c.body);
    return { status: 'ok', records: decoded.records };
  } catch (err) {
    if (err instanceof OtlpDecodeError) return { status: 'invalid', records: 0 };
    return { untyped: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

async function sendOnce(c: FuzzCase): Promise<'ok' | 'invalid' | 'too_large' | 'back_pressure' | string> {
  if (c.transport === 'grpc') {
    const r = await grpcExport(daemon.grpcPort, c.body);
    if (r.code === grpc.status.OK) return 'ok';
    if (r.code === grpc.status.INVALID_ARGUMENT) return 'invalid';
    if (r.code === grpc.status.RESOURCE_EXHAUSTED) return /larger than max/.test(r.details) ? 'too_large' : /retry later/.test(r.details) ? 'back_pressure' : r.details;
    return `gRPC ${r.code} ${r.details}`;
  }
  const headers: Record<string, string> = { 'Content-Type': c.encoding === 'json' ? 'application/json' : 'application/x-protobuf' };
  if (c.gzip) headers['Content-Encoding'] = 'gzip';
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, { method: 'POST', body: c.gzip ? gzipSync(c.body) : c.body, headers, signal: AbortSignal.timeout(60_000) });
  await res.arrayBuffer();
  const statuses: Record<number, string> = { 200: 'ok', 400: 'invalid', 413: 'too_large', 429: 'back_pressure' };
  return statuses[res.status] ?? `HTTP ${res.status}`;
}

/** Sends as an OTLP client does: a request refused by back-pressure (others filled the pipeline) is sent again. */
async function send(c: FuzzCase): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const answer = await sendOnce(c);
    if (answer !== 'back_pressure' || attempt === 50) return answer;
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('fuzz: mutated, deeply nested, huge and invalid-UTF-8 OTLP requests over HTTP and gRPC', async (t) => {
  const seed = fuzzSeed(20261123);
  t.comment(`seed ${seed} (replay with OTELHOUSE_FUZZ_SEED=${seed})`);
  const rand = seededRandom(seed);
  const validProto = [encodeLogsRequest(benchmarkBatch(4, 1)), encodeLogsRequest(numberedBatch(0, 3)), encodeLogsRequest(benchmarkBatch(2, 7))];
  const validJson = validProto.map((b) => Buffer.from(encodeLogsRequestJson(decodeLogsRequest(b).batch)).toString('utf8'));
  const text = new TextEncoder();
  const deepJson = '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":' + '{"arrayValue":{"values":['.repeat(100_000) + ']}}'.repeat(100_000) + '}]}]}]}';
  const attribute = (i: number) => lenField(6, concat(lenField(1, text.encode(`k${i % 1000}`)), lenField(2, lenField(1, text.encode('v')))));
  const manyAttributes = Array.from({ length: 100_000 }, (_, i) => attribute(i));
  const cases: FuzzCase[] = [
    { name: `array nesting at the limit (${MAX_VALUE_DEPTH})`, transport: 'http', encoding: 'protobuf', body: nestedBodyRequest(MAX_VALUE_DEPTH, 'array'), gzip: false },
    { name: 'array nesting over the limit', transport: 'grpc', encoding: 'protobuf', body: nestedBodyRequest(MAX_VALUE_DEPTH + 1, 'array'), gzip: false },
    { name: 'map nesting 5,000 deep', transport: 'http', encoding: 'protobuf', body: nestedBodyRequest(5000, 'kvlist'), gzip: true },
    { name: 'array nesting 5,000 deep', transport: 'grpc', encoding: 'protobuf', body: nestedBodyRequest(5000, 'array'), gzip: false },
    { name: 'JSON nesting 100,000 deep', transport: 'http', encoding: 'json', body: text.encode(deepJson), gzip: true },
    {
      name: 'JSON nesting over the limit',
      transport: 'http',
      encoding: 'json',
      body: text.encode(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: nestedJsonValue(MAX_VALUE_DEPTH + 5, 'kvlist') }, { body: { stringValue: 'neighbour' } }] }] }] })),
      gzip: false,
    },
    {
      name: 'lone surrogates in JSON keys and values',
      transport: 'http',
      encoding: 'json',
      body: text.encode(
        '{"resourceLogs":[{"resource":{"attributes":[{"key":"r\\udbff","value":{"stringValue":"\\ud800"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"\\ud800 body"},"attributes":[{"key":"\\ud800k","value":{"stringValue":"v\\udbff"}}]}]}]}]}',
      ),
      gzip: false,
    },
    { name: '100,000 attributes on one record', transport: 'http', encoding: 'protobuf', body: lenField(1, lenField(2, lenField(2, concatAll(manyAttributes)))), gzip: true },
    {
      name: '20,000 empty records',
      transport: 'grpc',
      encoding: 'protobuf',
      body: lenField(1, lenField(2, concatAll(Array.from({ length: 20_000 }, () => lenField(2, new Uint8Array(0)))))),
      gzip: false,
    },
    {
      name: '400,000 empty scopes (over the size limit)',
      transport: 'grpc',
      encoding: 'protobuf',
      body: lenField(1, concatAll(Array.from({ length: 400_000 }, () => lenField(2, new Uint8Array(0))))),
      gzip: false,
    },
    {
      name: 'JSON with 200,000 attributes',
      transport: 'http',
      encoding: 'json',
      body: text.encode(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: Array.from({ length: 200_000 }, (_, i) => ({ key: `k${i}`, value: { intValue: i } })) }] }] }] })),
      gzip: true,
    },
  ];
  const randomCases = fuzzCases(250);
  for (let i = 0; i < randomCases; i++) {
    const proto = mutateProtobuf(rand, rand.pick(validProto));
    cases.push({ name: `protobuf ${proto.kind} #${i} over HTTP`, transport: 'http', encoding: 'protobuf', body: proto.bytes, gzip: rand.chance(0.3) });
    const overGrpc = mutateProtobuf(rand, rand.pick(validProto));
    cases.push({ name: `protobuf ${overGrpc.kind} #${i} over gRPC`, transport: 'grpc', encoding: 'protobuf', body: overGrpc.bytes, gzip: false });
    const source = rand.pick(validJson);
    const json = rand.chance(0.5) ? text.encode(mutateJsonTree(rand, JSON.parse(source))) : mutateJsonText(rand, source);
    cases.push({ name: `JSON #${i}`, transport: 'http', encoding: 'json', body: json, gzip: rand.chance(0.3) });
  }

  const before = await countRows();
  const mismatches: string[] = [];
  let expectedRecords = 0;
  const outcomes = { ok: 0, invalid: 0, too_large: 0 };
  for (let next = 0; next < cases.length;) {
    const slice = cases.slice(next, (next += 8));
    const answers = await Promise.all(slice.map(send));
    slice.forEach((c, k) => {
      const expected = expectedOutcome(c);
      if ('untyped' in expected) mismatches.push(`${c.name}: the decoder threw an untyped error: ${expected.untyped}`);
      else if (answers[k] !== expected.status) mismatches.push(`${c.name}: answered ${answers[k]}, expected ${expected.status}`);
      else {
        outcomes[expected.status]++;
        expectedRecords += expected.records;
      }
    });
  }
  t.same(mismatches.slice(0, 10), [], `every request gets the status its content calls for (${cases.length} requests, seed ${seed})`);
  t.ok(outcomes.ok > 50 && outcomes.invalid > 50 && outcomes.too_large > 0, `the corpus exercises each outcome: ${JSON.stringify(outcomes)}`);
  t.ok(await waitFor(async () => (await countRows()) >= before + expectedRecords, 60_000), `the ${expectedRecords} records of accepted requests are stored`);
  t.equal(await countRows(), before + expectedRecords, 'and nothing else');
  const health = await fetch(`http://127.0.0.1:${daemon.telemetryPort}/health`);
  t.equal(health.status, 200, 'the daemon is still healthy');
});

t.test('fuzz: the decoders alone, many more cases: only OtlpDecodeError, and what they accept can be encoded again', async (t) => {
  const seed = fuzzSeed(7_700_001);
  const rand = seededRandom(seed);
  const valid = [encodeLogsRequest(benchmarkBatch(6, 3)), encodeLogsRequest(numberedBatch(10, 4))];
  const validJson = valid.map((b) => Buffer.from(encodeLogsRequestJson(decodeLogsRequest(b).batch)).toString('utf8'));
  const problems: string[] = [];
  const n = fuzzCases(10_000);
  let accepted = 0;
  for (let i = 0; i < n; i++) {
    const json = i % 2 === 1;
    const body = json
      ? rand.chance(0.5)
        ? new TextEncoder().encode(mutateJsonTree(rand, JSON.parse(rand.pick(validJson))))
        : mutateJsonText(rand, rand.pick(validJson))
      : mutateProtobuf(rand, rand.pick(valid)).bytes;
    let decoded;
    try {
      decoded = json ? decodeLogsRequestJson(body) : decodeLogsRequest(body);
    } catch (err) {
      if (!(err instanceof OtlpDecodeError)) problems.push(`case ${i}: ${(err as Error).name}: ${(err as Error).message}`);
      continue;
    }
    accepted++;
    try {
      const again = decodeLogsRequest(encodeLogsRequest(decoded.batch));
      if (again.records !== decoded.records) problems.push(`case ${i}: ${decoded.records} records decoded, ${again.records} after re-encoding`);
    } catch (err) {
      problems.push(`case ${i}: accepted but cannot be encoded again: ${(err as Error).message}`);
    }
  }
  t.same(problems.slice(0, 10), [], `${n} cases (seed ${seed}), ${accepted} accepted`);
});
