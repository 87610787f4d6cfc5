import protobuf from 'protobufjs';
import t from 'tap';
import {
  OtlpDecodeError,
  decodeLogsRequest,
  decodeLogsRequestJson,
  encodeLogsRequest,
  encodeLogsRequestJson,
  encodeLogsResponse,
  encodeLogsResponseJson,
  encodeStatus,
} from '../src/otlp/index.js';
import { newAttributes, newLogRecord, type AnyValue, type LogBatch } from '../src/pipeline/model.js';
import { benchmarkBatch } from '../bench/workload.js';
import { PROJECT_ROOT } from './support/cli.js';

const root = new protobuf.Root();
root.resolvePath = (_o, target) => `${PROJECT_ROOT}/proto/${target}`;
root.loadSync(['opentelemetry/proto/collector/logs/v1/logs_service.proto', 'google/rpc/status.proto']);
const RequestType = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
const ResponseType = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');
const StatusType = root.lookupType('google.rpc.Status');

function attrs(entries: Record<string, AnyValue>) {
  const a = newAttributes();
  Object.assign(a, entries);
  return a;
}

/** One record of every AnyValue kind, with extreme 64-bit values and exact nanoseconds. */
function everyKindBatch(): LogBatch {
  const r = newLogRecord();
  r.timeUnixNano = 1_700_000_000_123_456_789n;
  r.observedTimeUnixNano = 18_446_744_073_709_551_615n;
  r.severityNumber = 17;
  r.severityText = 'ERROR';
  r.body = attrs({ nested: [1n, 'two', attrs({ three: 3.5 })], empty: null });
  r.attributes = attrs({
    s: 'héllo ✓',
    b: false,
    imax: 9_223_372_036_854_775_807n,
    imin: -9_223_372_036_854_775_808n,
    d: -0.125,
    nan: NaN,
    inf: Infinity,
    bytes: new Uint8Array([0, 1, 254, 255]),
    arr: [true, 1n, 2.5, 'x', new Uint8Array([7])],
    kv: attrs({ a: attrs({ b: 'c' }) }),
    ['__proto__']: 'plain data',
  });
  r.droppedAttributesCount = 2;
  r.flags = 0x101;
  r.traceId = '0af7651916cd43dd8448eb211c80319c';
  r.spanId = 'b7ad6b7169203331';
  r.eventName = 'db.query';
  return {
    resourceLogs: [
      {
        resource: { attributes: attrs({ 'service.name': 'codec', pid: 42n }), droppedAttributesCount: 1 },
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        scopeLogs: [{ scope: { name: 'scope', version: '9.9', attributes: attrs({ lib: 'x' }), droppedAttributesCount: 3 }, schemaUrl: 'https://example/s', logRecords: [r, newLogRecord()] }],
      },
    ],
  };
}

t.test('protobuf round trip keeps every value kind exactly', async (t) => {
  const batch = everyKindBatch();
  const decoded = decodeLogsRequest(encodeLogsRequest(batch));
  t.equal(decoded.records, 2);
  t.equal(decoded.rejected, 0);
  t.same(decoded.batch, batch);
  const rec = decoded.batch.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
  t.equal(rec.timeUnixNano, 1_700_000_000_123_456_789n, 'nanoseconds are exact');
  t.equal(rec.observedTimeUnixNano, 18_446_744_073_709_551_615n, 'the largest fixed64 is exact');
  t.equal(rec.attributes.imin, -9_223_372_036_854_775_808n, 'the smallest int64 is exact');
  t.ok(Number.isNaN(rec.attributes.nan as number));
  t.notOk('toString' in rec.attributes, 'attribute maps inherit no keys');
  t.same(Object.keys(Object.getPrototypeOf(rec.attributes) as object), [], 'their prototype is empty');
  t.equal(Object.getPrototypeOf(Object.getPrototypeOf(rec.attributes) as object), null, 'and has no prototype itself');
  t.equal(rec.attributes['__proto__'], 'plain data', 'a "__proto__" key is plain data');
});

t.test('the one-pass decoder agrees with protobufjs reflection over the .proto files', async (t) => {
  for (let seed = 0; seed < 5; seed++) {
    const buf = encodeLogsRequest(benchmarkBatch(200, seed));
    const fast = decodeLogsRequest(buf).batch;
    const reflected = RequestType.toObject(RequestType.decode(buf), { longs: String, bytes: Buffer, defaults: true }) as {
      resourceLogs: Array<{ resource: { attributes: Array<{ key: string }> }; scopeLogs: Array<{ logRecords: Array<{ timeUnixNano: string; traceId: Buffer; body: { stringValue: string }; attributes: Array<{ key: string }> }> }> }>;
    };
    const fastRecords = fast.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
    const refRecords = reflected.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
    t.equal(fastRecords.length, refRecords.length);
    t.same(
      fastRecords.map((r) => [r.timeUnixNano.toString(), r.traceId, r.body, Object.keys(r.attributes)]),
      refRecords.map((r) => [r.timeUnixNano, /^0*$/.test(r.traceId.toString('hex')) ? '' : r.traceId.toString('hex'), r.body.stringValue, r.attributes.map((a) => a.key)]),
      `seed ${seed}`,
    );
  }
});

t.test('unknown fields are skipped and wrong-length ids reject only their record', async (t) => {
  const writer = protobuf.Writer.create();
  const good = { timeUnixNano: '5', body: { stringValue: 'kept' } };
  const badTrace = { timeUnixNano: '6', traceId: Buffer.alloc(5, 1) };
  const badSpan = { timeUnixNano: '7', spanId: Buffer.alloc(3, 1) };
  RequestType.encode({ resourceLogs: [{ scopeLogs: [{ logRecords: [good, badTrace, good, badSpan] }] }] }, writer);
  writer.uint32((99 << 3) | 2).string('a field from the future');
  const decoded = decodeLogsRequest(writer.finish());
  t.equal(decoded.records, 2);
  t.equal(decoded.rejected, 2);
  t.match(decoded.rejectReason, /resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[1\]\.traceId: expected 16 bytes, got 5/);
  const zeroIds = decodeLogsRequest(RequestType.encode({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: Buffer.alloc(16), spanId: Buffer.alloc(8) }] }] }] }).finish());
  const rec = zeroIds.batch.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
  t.same([rec.traceId, rec.spanId], ['', ''], 'all-zero ids mean no id');
});

t.test('undecodable protobuf throws OtlpDecodeError', async (t) => {
  t.throws(() => decodeLogsRequest(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1])), OtlpDecodeError);
  const full = encodeLogsRequest(everyKindBatch());
  t.throws(() => decodeLogsRequest(full.subarray(0, full.length - 9)), { name: 'OtlpDecodeError', message: /invalid protobuf/ });
  t.throws(() => decodeLogsRequest(new Uint8Array([0x0f])), OtlpDecodeError, 'an invalid wire type');
});

t.test('OTLP/JSON: camelCase and snake_case decode alike; int64 as strings or numbers; enum names', async (t) => {
  const camel = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"j"}}],"droppedAttributesCount":1},
    "scopeLogs":[{"scope":{"name":"sc","version":"1"},"schemaUrl":"u","logRecords":[{"timeUnixNano":"1700000000123456789","observedTimeUnixNano":1700000000123456790,
    "severityNumber":"SEVERITY_NUMBER_WARN","severityText":"WARN","body":{"kvlistValue":{"values":[{"key":"k","value":{"arrayValue":{"values":[{"intValue":9007199254740993},{"doubleValue":"NaN"},{"bytesValue":"AAH/"}]}}}]}},
    "attributes":[{"key":"i","value":{"intValue":"-9223372036854775808"}},{"key":"b","value":{"boolValue":true}}],"traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"b7ad6b7169203331","flags":1,"eventName":"e","someFutureField":{"x":1}}]}]}]}`;
  const snake = camel
    .replace(/resourceLogs/g, 'resource_logs')
    .replace(/scopeLogs/g, 'scope_logs')
    .replace(/logRecords/g, 'log_records')
    .replace(/timeUnixNano/g, 'time_unix_nano')
    .replace(/observedtime_unix_nano/g, 'observed_time_unix_nano')
    .replace(/severityNumber/g, 'severity_number')
    .replace(/stringValue/g, 'string_value')
    .replace(/kvlistValue/g, 'kvlist_value')
    .replace(/arrayValue/g, 'array_value')
    .replace(/intValue/g, 'int_value')
    .replace(/traceId/g, 'trace_id')
    .replace(/droppedAttributesCount/g, 'dropped_attributes_count');
  const a = decodeLogsRequestJson(camel);
  const b = decodeLogsRequestJson(Buffer.from(snake));
  t.same(b, a, 'snake_case gives the same batch');
  const rec = a.batch.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
  t.equal(rec.timeUnixNano, 1_700_000_000_123_456_789n);
  t.equal(rec.observedTimeUnixNano, 1_700_000_000_123_456_790n, 'a 64-bit JSON number is exact');
  t.equal(rec.severityNumber, 13);
  t.equal(rec.traceId, '0af7651916cd43dd8448eb211c80319c', 'hex ids are normalised to lower case');
  t.same((rec.body as { k: AnyValue[] }).k.slice(0, 1), [9_007_199_254_740_993n]);
  t.same((rec.body as { k: AnyValue[] }).k[2], new Uint8Array([0, 1, 255]));
  t.equal(rec.attributes.i, -9_223_372_036_854_775_808n);
});

t.test('OTLP/JSON: a bad record is rejected alone; bad structure is an error', async (t) => {
  const r = decodeLogsRequestJson(
    '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a $$ dollar"}},{"traceId":"xyz"},{"timeUnixNano":"soon"},{"spanId":"00000000000000000000"},{"body":{"stringValue":"ok"}}]}]}]}',
  );
  t.equal(r.records, 2);
  t.equal(r.rejected, 3);
  t.match(r.rejectReason, /logRecords\[1\]\.traceId: expected 32 hex characters/);
  t.throws(() => decodeLogsRequestJson('{"resourceLogs": ['), { name: 'OtlpDecodeError', message: /invalid JSON/ });
  t.throws(() => decodeLogsRequestJson('[1,2]'), OtlpDecodeError);
  t.throws(() => decodeLogsRequestJson('{"resourceLogs":[{"resource":{"attributes":7}}]}'), { message: /resourceLogs\[0\]\.resource\.attributes: expected an array/ });
  t.throws(() => decodeLogsRequestJson('{"resourceLogs":{}}'), { message: /resourceLogs: expected an array/ });
});

t.test('JSON round trip', async (t) => {
  const batch = everyKindBatch();
  t.same(decodeLogsRequestJson(encodeLogsRequestJson(batch)).batch, batch);
});

t.test('responses and status bodies', async (t) => {
  t.same(ResponseType.toObject(ResponseType.decode(encodeLogsResponse())), {}, 'no partial_success when all was accepted');
  const partial = ResponseType.toObject(ResponseType.decode(encodeLogsResponse({ rejectedLogRecords: 3, errorMessage: 'bad ids' })), { longs: Number });
  t.same(partial, { partialSuccess: { rejectedLogRecords: 3, errorMessage: 'bad ids' } });
  t.same(JSON.parse(encodeLogsResponseJson({ rejectedLogRecords: 3, errorMessage: 'bad ids' })), { partialSuccess: { rejectedLogRecords: '3', errorMessage: 'bad ids' } });
  t.equal(encodeLogsResponseJson(), '{}');
  t.same(StatusType.toObject(StatusType.decode(encodeStatus(3, 'why'))), { code: 3, message: 'why' });
});
