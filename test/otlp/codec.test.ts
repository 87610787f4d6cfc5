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
  encodeStatusJson,
} from '../../src/otlp/index.js';
import { MAX_UNIX_NANO, MAX_VALUE_DEPTH } from '../../src/pipeline/limits.js';
import { newAttributes, newLogRecord, type AnyValue, type LogBatch, type LogRecord } from '../../src/pipeline/model.js';
import { benchmarkBatch } from '../../bench/workload.js';
import { PROJECT_ROOT } from '../support/cli.js';

/* The codec's own types are not used to check it: these are loaded separately from the same files. */
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => `${PROJECT_ROOT}/proto/${target}`;
root.loadSync(['opentelemetry/proto/collector/logs/v1/logs_service.proto', 'google/rpc/status.proto']);
const RequestType = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
const ResponseType = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');
const StatusType = root.lookupType('google.rpc.Status');

function attrs(entries: Record<string, AnyValue>) {
  const a = newAttributes();
  Object.assign(a, entries);
  return a;
}

function batchOf(records: LogRecord[]): LogBatch {
  return {
    resourceLogs: [
      {
        resource: { attributes: newAttributes(), droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeLogs: [{ scope: { name: '', version: '', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', logRecords: records }],
      },
    ],
  };
}

function onlyRecord(batch: LogBatch): LogRecord {
  return batch.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
}

/** One record of every AnyValue kind, with extreme 64-bit values and exact nanoseconds. */
function everyKindBatch(): LogBatch {
  const r = newLogRecord();
  r.timeUnixNano = 1_700_000_000_123_456_789n;
  r.observedTimeUnixNano = MAX_UNIX_NANO;
  r.severityNumber = 17;
  r.severityText = 'ERROR';
  r.body = attrs({ nested: [1n, 'two', attrs({ three: 3.5, deeper: [[null, -1n]] })], empty: null });
  r.attributes = attrs({
    s: 'héllo ✓',
    b: false,
    imax: 9_223_372_036_854_775_807n,
    imin: -9_223_372_036_854_775_808n,
    d: -0.125,
    nan: NaN,
    inf: Infinity,
    ninf: -Infinity,
    bytes: new Uint8Array([0, 1, 254, 255]),
    noBytes: new Uint8Array(0),
    arr: [true, 1n, 2.5, 'x', new Uint8Array([7]), null, []],
    kv: attrs({ a: attrs({ b: 'c' }), emptyMap: newAttributes() }),
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
        scopeLogs: [
          { scope: { name: 'scope', version: '9.9', attributes: attrs({ lib: 'x' }), droppedAttributesCount: 3 }, schemaUrl: 'https://example/s', logRecords: [r, newLogRecord()] },
          { scope: { name: '', version: '', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', logRecords: [] },
        ],
      },
      { resource: { attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', scopeLogs: [] },
    ],
  };
}

/** Integers around every boundary of the varint and of the two 32-bit halves. */
const INT64_EDGES = [
  0n,
  1n,
  -1n,
  127n,
  128n,
  2n ** 28n - 1n,
  2n ** 28n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 35n,
  2n ** 53n + 1n,
  -(2n ** 53n) - 1n,
  -(2n ** 32n),
  2n ** 63n - 1n,
  -(2n ** 63n),
];

t.test('protobuf round trip keeps every value kind exactly', async (t) => {
  const batch = everyKindBatch();
  const decoded = decodeLogsRequest(encodeLogsRequest(batch));
  t.equal(decoded.records, 2);
  t.equal(decoded.rejected, 0);
  t.equal(decoded.rejectReason, '');
  t.same(decoded.batch, batch);
  const rec = onlyRecord(decoded.batch);
  t.equal(rec.timeUnixNano, 1_700_000_000_123_456_789n, 'nanoseconds are exact');
  t.equal(rec.observedTimeUnixNano, 9_223_372_036_854_775_807n, 'the latest representable time is exact');
  t.equal(rec.attributes.imax, 9_223_372_036_854_775_807n, 'the largest int64 is exact');
  t.equal(rec.attributes.imin, -9_223_372_036_854_775_808n, 'the smallest int64 is exact');
  t.ok(Number.isNaN(rec.attributes.nan as number));
  t.equal(rec.attributes.ninf, -Infinity);
  t.ok(rec.attributes.bytes instanceof Uint8Array);
  t.notOk('toString' in rec.attributes, 'attribute maps inherit no keys');
  t.equal(Object.getPrototypeOf(Object.getPrototypeOf(rec.attributes) as object), null, 'attribute maps come from newAttributes()');
  t.equal(rec.attributes['__proto__'], 'plain data', 'a "__proto__" key is plain data');
});

t.test('short strings shared between records are never confused with one another', async (t) => {
  // More distinct short keys and values than any table of shared strings has slots, so some
  // share a slot; with lengths around the shared-string limit, non-ASCII text and invalid UTF-8.
  const texts: string[] = [];
  for (let i = 0; i < 12_000; i++) texts.push(`k${String(i).padStart(5, '0')}`);
  for (let n = 28; n <= 36; n++) texts.push('x'.repeat(n - 1) + String(n % 10));
  texts.push('héllo', '日本語のキー', 'a\u0000b', ' ', 'ÿ', '\ufffd');
  const records = texts.map((text, i) => {
    const r = newLogRecord();
    r.body = texts[(i * 7919) % texts.length]!;
    r.attributes = attrs({ [text]: texts[(i + 1) % texts.length]!, same: text });
    return r;
  });
  const batch = batchOf(records);
  const bytes = encodeLogsRequest(batch);
  for (const round of [1, 2]) t.same(decodeLogsRequest(bytes).batch, batch, `decoded exactly, round ${round}`);
  const reversed = batchOf([...records].reverse());
  t.same(decodeLogsRequest(encodeLogsRequest(reversed)).batch, reversed, 'in the other order too');

  // Bytes that are not UTF-8 read with replacement characters, as before, and are not shared as text.
  const invalid = Buffer.from(encodeLogsRequest(batchOf([recordWithKey('\u00ff\u00fe')])));
  const at = invalid.indexOf(Buffer.from('ÿþ', 'utf8'));
  invalid.writeUInt8(0xc3, at);
  invalid.writeUInt8(0xff, at + 1);
  const key = Object.keys(onlyRecord(decodeLogsRequest(invalid).batch).attributes)[0]!;
  t.equal(key, Buffer.from([0xc3, 0xff, 0xc3, 0xbe]).toString('utf8'), 'invalid UTF-8 decodes as Buffer#toString does');
});

function recordWithKey(key: string): LogRecord {
  const r = newLogRecord();
  r.attributes = attrs({ [key]: 'v' });
  return r;
}

t.test('int64 values survive at every boundary', async (t) => {
  const r = newLogRecord();
  r.body = INT64_EDGES;
  r.timeUnixNano = 2n ** 63n - 1n;
  const decoded = onlyRecord(decodeLogsRequest(encodeLogsRequest(batchOf([r]))).batch);
  t.same(decoded.body, INT64_EDGES);
  t.equal(decoded.timeUnixNano, 2n ** 63n - 1n);
  t.same(onlyRecord(decodeLogsRequestJson(encodeLogsRequestJson(batchOf([r]))).batch).body, INT64_EDGES, 'and through OTLP/JSON');
});

t.test('times after 2262-04-11T23:47:16.854775807Z (int64 nanoseconds) read as unknown, and are counted', async (t) => {
  for (const late of [2n ** 63n, 2n ** 64n - 1n]) {
    const r = newLogRecord();
    r.timeUnixNano = late;
    r.observedTimeUnixNano = late;
    r.body = 'late';
    const proto = decodeLogsRequest(encodeLogsRequest(batchOf([r])));
    const json = decodeLogsRequestJson(encodeLogsRequestJson(batchOf([r])));
    for (const [name, decoded] of [
      ['protobuf', proto],
      ['JSON', json],
    ] as const) {
      const rec = onlyRecord(decoded.batch);
      t.same([rec.timeUnixNano, rec.observedTimeUnixNano, rec.body], [0n, 0n, 'late'], `${name}, ${late}: the record is kept with both times unknown`);
      t.equal(decoded.unrepresentableTimes, 2, `${name}: both times are counted`);
    }
  }
});

t.test('64-bit values do not depend on protobufjs finding the long package', async (t) => {
  const long = protobuf.util.Long;
  protobuf.util.Long = null as unknown as typeof long;
  protobuf.configure();
  try {
    const r = newLogRecord();
    r.timeUnixNano = 1_700_000_000_123_456_789n;
    r.body = INT64_EDGES;
    const decoded = onlyRecord(decodeLogsRequest(encodeLogsRequest(batchOf([r]))).batch);
    t.equal(decoded.timeUnixNano, 1_700_000_000_123_456_789n);
    t.same(decoded.body, INT64_EDGES);
  } finally {
    protobuf.util.Long = long;
    protobuf.configure();
  }
});

t.test('default values are left out of the encoding', async (t) => {
  const reflected = RequestType.toObject(RequestType.decode(encodeLogsRequest(batchOf([newLogRecord()])))) as { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: object[] }> }> };
  t.same(reflected.resourceLogs[0]!.scopeLogs[0]!.logRecords, [{}]);
  t.equal(encodeLogsRequestJson(batchOf([newLogRecord()])).includes('"logRecords":[{}]'), true);
});

t.test('the one-pass decoder agrees with protobufjs reflection over the .proto files', async (t) => {
  type Reflected = {
    resourceLogs: Array<{
      resource: { attributes: Array<{ key: string }> };
      scopeLogs: Array<{ logRecords: Array<{ timeUnixNano: string; severityNumber: number; traceId: Buffer; spanId: Buffer; body: { stringValue: string }; attributes: Array<{ key: string }> }> }>;
    }>;
  };
  const hex = (b: Buffer) => (/^0*$/.test(b.toString('hex')) ? '' : b.toString('hex'));
  for (let seed = 0; seed < 5; seed++) {
    const buf = encodeLogsRequest(benchmarkBatch(200, seed));
    const fast = decodeLogsRequest(buf).batch;
    const reflected = RequestType.toObject(RequestType.decode(buf), { longs: String, bytes: Buffer, defaults: true }) as Reflected;
    const fastRecords = fast.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
    const refRecords = reflected.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
    t.equal(fastRecords.length, refRecords.length);
    t.same(
      fastRecords.map((r) => [r.timeUnixNano.toString(), r.severityNumber, r.traceId, r.spanId, r.body, Object.keys(r.attributes)]),
      refRecords.map((r) => [r.timeUnixNano, r.severityNumber, hex(r.traceId), hex(r.spanId), r.body.stringValue, r.attributes.map((a) => a.key)]),
      `seed ${seed}`,
    );
  }
});

t.test('unknown fields are skipped and wrong-length ids reject only their record', async (t) => {
  const writer = protobuf.Writer.create();
  const good = { timeUnixNano: 5, body: { stringValue: 'kept' } };
  const badTrace = { timeUnixNano: 6, traceId: Buffer.alloc(5, 1) };
  const badSpan = { timeUnixNano: 7, spanId: Buffer.alloc(3, 1) };
  RequestType.encode({ resourceLogs: [{ scopeLogs: [{ logRecords: [good, badTrace, good, badSpan] }] }] }, writer);
  writer.uint32((99 << 3) | 2).string('a field from the future');
  const decoded = decodeLogsRequest(writer.finish());
  t.equal(decoded.records, 2);
  t.equal(decoded.rejected, 2);
  t.equal(decoded.rejectReason, 'resourceLogs[0].scopeLogs[0].logRecords[1].traceId: expected 16 bytes, got 5', 'the first rejection is reported');
  t.same(
    decoded.batch.resourceLogs[0]!.scopeLogs[0]!.logRecords.map((r) => r.body),
    ['kept', 'kept'],
  );
  const zeroIds = decodeLogsRequest(RequestType.encode({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: Buffer.alloc(16), spanId: Buffer.alloc(8) }] }] }] }).finish());
  const rec = onlyRecord(zeroIds.batch);
  t.same([rec.traceId, rec.spanId], ['', ''], 'all-zero ids mean no id');
  t.same(decodeLogsRequest(new Uint8Array(0)), { batch: { resourceLogs: [] }, records: 0, rejected: 0, rejectReason: '', unrepresentableTimes: 0 }, 'an empty body is an empty request');
});

t.test('undecodable protobuf throws OtlpDecodeError', async (t) => {
  t.throws(() => decodeLogsRequest(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1])), { name: 'OtlpDecodeError', message: /^invalid protobuf: index out of range/ });
  t.throws(() => decodeLogsRequest(Buffer.from('{"resourceLogs":[]}')), OtlpDecodeError, 'a JSON body');
  t.throws(() => decodeLogsRequest(new Uint8Array([0x0f])), OtlpDecodeError, 'an invalid wire type');
  const full = encodeLogsRequest(everyKindBatch());
  for (const cut of [1, 9, Math.floor(full.length / 2)]) {
    t.throws(() => decodeLogsRequest(full.subarray(0, full.length - cut)), OtlpDecodeError, `truncated by ${cut} bytes`);
  }
  // A Resource that claims 3 bytes while its first attribute runs on for 7.
  const overrun = new Uint8Array([0x0a, 0x09, 0x0a, 0x03, 0x0a, 0x05, 0x0a, 0x03, 0x6b, 0x65, 0x79]);
  t.throws(() => decodeLogsRequest(overrun), { name: 'OtlpDecodeError', message: /overruns its message/ });
  const elevenByteVarint = RequestType.encode({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { intValue: 1 } }] }] }] }).finish();
  const intAt = elevenByteVarint.indexOf(0x18);
  const broken = Buffer.concat([elevenByteVarint.subarray(0, intAt + 1), Buffer.alloc(10, 0xff), Buffer.from([0x01])]);
  t.throws(() => decodeLogsRequest(broken), OtlpDecodeError, 'an int64 varint longer than 10 bytes');
});

/** [[[ … "leaf" … ]]] with `depth` arrays around the leaf. */
function nestedArrays(depth: number): AnyValue {
  let v: AnyValue = 'leaf';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** {k: {k: … "leaf" …}} with `depth` maps around the leaf: three messages a level, the deepest kind. */
function nestedMaps(depth: number): AnyValue {
  let v: AnyValue = 'leaf';
  for (let i = 0; i < depth; i++) v = attrs({ k: v });
  return v;
}

t.test('a record with values nested deeper than the limit is rejected alone, without exhausting the stack', async (t) => {
  const atLimit = newLogRecord();
  atLimit.attributes = attrs({ deep: nestedMaps(MAX_VALUE_DEPTH) });
  atLimit.body = nestedArrays(MAX_VALUE_DEPTH);
  t.same(onlyRecord(decodeLogsRequest(encodeLogsRequest(batchOf([atLimit]))).batch), atLimit, 'the limit itself is accepted, and protobufjs can encode it');
  t.same(onlyRecord(decodeLogsRequestJson(encodeLogsRequestJson(batchOf([atLimit]))).batch), atLimit, 'also in JSON');
  const tooDeep = newLogRecord();
  tooDeep.body = nestedArrays(MAX_VALUE_DEPTH + 1);
  const tooDeepAttribute = newLogRecord();
  tooDeepAttribute.attributes = attrs({ deep: nestedMaps(MAX_VALUE_DEPTH + 1) });
  const proto = decodeLogsRequest(encodeLogsRequest(batchOf([tooDeep, atLimit, tooDeepAttribute])));
  t.same([proto.records, proto.rejected], [1, 2], 'in protobuf only the records are rejected');
  t.same(onlyRecord(proto.batch), atLimit, 'their neighbour is kept intact');
  t.equal(proto.rejectReason, `resourceLogs[0].scopeLogs[0].logRecords[0].body: values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const json = decodeLogsRequestJson(encodeLogsRequestJson(batchOf([tooDeep, atLimit, tooDeepAttribute])));
  t.same([json.records, json.rejected], [1, 2], 'in JSON likewise');
  t.match(json.rejectReason, /^resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.body(\.arrayValue\.values\[0\])+: values nested deeper than/);
  const deepResource = batchOf([atLimit]);
  deepResource.resourceLogs[0]!.resource.attributes = attrs({ deep: nestedMaps(MAX_VALUE_DEPTH + 1) });
  t.throws(
    () => decodeLogsRequest(encodeLogsRequest(deepResource)),
    { name: 'OtlpDecodeError', message: /nested deeper than/ },
    'outside a record (a resource attribute) the request is refused, in protobuf',
  );
  t.throws(() => decodeLogsRequestJson(encodeLogsRequestJson(deepResource)), { name: 'OtlpDecodeError', message: /nested deeper than/ }, 'and in JSON');

  const depth = 20_000;
  t.equal(decodeLogsRequest(deepProtoBody(depth)).rejected, 1, `${depth} levels of protobuf`);
  const hostileJson = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${'{"arrayValue":{"values":['.repeat(depth)}${']}}'.repeat(depth)}}]}]}]}`;
  t.equal(decodeLogsRequestJson(hostileJson).rejected, 1, `${depth} levels of JSON`);
});

/** ExportLogsServiceRequest bytes whose record body is `depth` nested ArrayValues. */
function deepProtoBody(depth: number): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork(); // resource_logs
  w.uint32((2 << 3) | 2).fork(); // scope_logs
  w.uint32((2 << 3) | 2).fork(); // log_records
  w.uint32((5 << 3) | 2).fork(); // body
  for (let i = 0; i < depth; i++)
    w.uint32((5 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .fork(); // array_value, values
  w.uint32((1 << 3) | 2).string('leaf');
  for (let i = 0; i < 2 * depth + 4; i++) w.ldelim();
  return w.finish();
}

const CAMEL_DOCUMENT = `{
  "resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "j"}}], "droppedAttributesCount": 1},
    "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
    "scopeLogs": [{
      "scope": {"name": "sc", "version": "1", "attributes": [{"key": "lib", "value": {"boolValue": false}}], "droppedAttributesCount": "2"},
      "schemaUrl": "u",
      "logRecords": [{
        "timeUnixNano": "1700000000123456789",
        "observedTimeUnixNano": 1700000000123456790,
        "severityNumber": "SEVERITY_NUMBER_WARN",
        "severityText": "WARN",
        "body": {"kvlistValue": {"values": [{"key": "k", "value": {"arrayValue": {"values": [
          {"intValue": 9007199254740993}, {"intValue": -9223372036854775808}, {"intValue": 42}, {"intValue": "-7"},
          {"doubleValue": "NaN"}, {"doubleValue": "-Infinity"}, {"doubleValue": 1.5e300}, {"doubleValue": 12345678901234567890},
          {"bytesValue": "AAH/"}, {}
        ]}}}]}},
        "attributes": [
          {"key": "i", "value": {"intValue": "-9223372036854775808"}},
          {"key": "b", "value": {"boolValue": true}},
          {"key": "looks like a field", "value": {"stringValue": "{\\"intValue\\": 12345678901234567890}"}}
        ],
        "droppedAttributesCount": 3,
        "traceId": "0AF7651916CD43DD8448EB211C80319C",
        "spanId": "b7ad6b7169203331",
        "flags": 1,
        "eventName": "e",
        "someFutureField": {"x": [1, 12345678901234567890]}
      }, {
        "timeUnixNano": 1700000000000000000,
        "severityNumber": 9,
        "traceId": "",
        "spanId": "0000000000000000"
      }]
    }]
  }]
}`;

/** The same document with every lowerCamelCase field name in its proto snake_case spelling. */
function snakeCase(json: string): string {
  return json.replace(/"([a-z]+(?:[A-Z][a-z]*)+)"(\s*:)/g, (_m, name: string, colon: string) => `"${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}"${colon}`);
}

t.test('OTLP/JSON: camelCase and snake_case decode alike; int64 as strings or numbers; enum names', async (t) => {
  const snake = snakeCase(CAMEL_DOCUMENT);
  t.notMatch(snake, /"[a-z]+[A-Z]\w*"\s*:/, 'the snake_case document has no camelCase names left');
  t.match(snake, /"observed_time_unix_nano": 1700000000123456790/);
  const camel = decodeLogsRequestJson(CAMEL_DOCUMENT);
  t.same(decodeLogsRequestJson(Buffer.from(snake)), camel, 'snake_case gives the same batch');
  t.same([camel.records, camel.rejected], [2, 0]);
  const rl = camel.batch.resourceLogs[0]!;
  t.same(rl.resource, { attributes: attrs({ 'service.name': 'j' }), droppedAttributesCount: 1 });
  t.same(rl.scopeLogs[0]!.scope, { name: 'sc', version: '1', attributes: attrs({ lib: false }), droppedAttributesCount: 2 });
  const [rec, second] = rl.scopeLogs[0]!.logRecords as [LogRecord, LogRecord];
  t.equal(rec.timeUnixNano, 1_700_000_000_123_456_789n);
  t.equal(rec.observedTimeUnixNano, 1_700_000_000_123_456_790n, 'a 64-bit JSON number is exact');
  t.equal(second.timeUnixNano, 1_700_000_000_000_000_000n);
  t.equal(rec.severityNumber, 13, 'severity as an enum name');
  t.equal(second.severityNumber, 9, 'severity as a number');
  t.equal(rec.traceId, '0af7651916cd43dd8448eb211c80319c', 'hex ids are normalised to lower case');
  t.same([second.traceId, second.spanId], ['', ''], 'empty and all-zero ids mean no id');
  t.same((rec.body as { k: AnyValue[] }).k, [9_007_199_254_740_993n, -9_223_372_036_854_775_808n, 42n, -7n, NaN, -Infinity, 1.5e300, 12345678901234567890, new Uint8Array([0, 1, 255]), null]);
  t.equal(rec.attributes.i, -9_223_372_036_854_775_808n);
  t.equal(rec.attributes['looks like a field'], '{"intValue": 12345678901234567890}', 'string contents are never rewritten');
  t.same([rec.flags, rec.droppedAttributesCount, rec.eventName], [1, 3, 'e']);
});

function jsonParseError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the text is valid JSON');
}

t.test('OTLP/JSON: a bad record is rejected alone; bad structure is an error', async (t) => {
  const r = decodeLogsRequestJson(
    `{"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"body":{"stringValue":"a $$ dollar"}},
      {"traceId":"xyz"},
      {"timeUnixNano":"soon"},
      {"spanId":"00000000000000000000"},
      {"severityNumber":"toString"},
      {"timeUnixNano":"-1"},
      {"body":{"stringValue":"ok"}}]}]}]}`,
  );
  t.equal(r.records, 2);
  t.equal(r.rejected, 5);
  t.equal(r.rejectReason, 'resourceLogs[0].scopeLogs[0].logRecords[1].traceId: expected 32 hex characters, got "xyz"');
  t.same(
    r.batch.resourceLogs[0]!.scopeLogs[0]!.logRecords.map((x) => x.body),
    ['a $$ dollar', 'ok'],
  );
  t.throws(() => decodeLogsRequestJson('{"resourceLogs": ['), { name: 'OtlpDecodeError', message: /^invalid JSON: / });
  t.throws(() => decodeLogsRequestJson(Buffer.from([0x0a, 0x02, 0x12, 0x00])), { name: 'OtlpDecodeError', message: /^invalid JSON: / }, 'a protobuf body');
  const invalidAfterLongInteger = '{"resourceLogs": [{"timeUnixNano": 12345678901234567890, "x": }]}';
  t.throws(() => decodeLogsRequestJson(invalidAfterLongInteger), { message: `invalid JSON: ${jsonParseError(invalidAfterLongInteger)}` }, 'the error describes the text as sent');
  for (const top of ['[1,2]', '"resourceLogs"', 'null', '7']) t.throws(() => decodeLogsRequestJson(top), { name: 'OtlpDecodeError', message: /expected an ExportLogsServiceRequest object/ }, top);
  t.throws(() => decodeLogsRequestJson('{"resourceLogs":{}}'), { message: /^resourceLogs: expected an array/ });
  t.throws(() => decodeLogsRequestJson('{"resourceLogs":[{"resource":{"attributes":7}}]}'), { message: /^resourceLogs\[0\]\.resource\.attributes: expected an array/ });
  t.throws(() => decodeLogsRequestJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":{}}]}]}'), { message: /logRecords: expected an array/ });
  t.same(decodeLogsRequestJson('{}').batch, { resourceLogs: [] }, 'an empty request');
});

t.test('OTLP/JSON round trip', async (t) => {
  const batch = everyKindBatch();
  const json = encodeLogsRequestJson(batch);
  t.same(decodeLogsRequestJson(json).batch, batch);
  const rec = (JSON.parse(json) as { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: Array<Record<string, unknown>> }> }> }).resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
  t.equal(rec.timeUnixNano, '1700000000123456789', 'int64 is written as a string');
  t.equal(rec.traceId, '0af7651916cd43dd8448eb211c80319c', 'ids are written as hex');
  const workload = benchmarkBatch(50, 1);
  t.same(decodeLogsRequestJson(encodeLogsRequestJson(workload)).batch, workload);
});

t.test('responses and status bodies', async (t) => {
  t.same(ResponseType.toObject(ResponseType.decode(encodeLogsResponse())), {}, 'no partial_success when all was accepted');
  t.equal(encodeLogsResponse().length, 0);
  const partial = ResponseType.toObject(ResponseType.decode(encodeLogsResponse({ rejectedLogRecords: 3, errorMessage: 'bad ids' })), { longs: Number });
  t.same(partial, { partialSuccess: { rejectedLogRecords: 3, errorMessage: 'bad ids' } });
  t.same(JSON.parse(encodeLogsResponseJson({ rejectedLogRecords: 3, errorMessage: 'bad ids' })), { partialSuccess: { rejectedLogRecords: '3', errorMessage: 'bad ids' } });
  t.equal(encodeLogsResponseJson(), '{}');
  t.same(StatusType.toObject(StatusType.decode(encodeStatus(3, 'why'))), { code: 3, message: 'why' });
  t.same(JSON.parse(encodeStatusJson(3, 'why')), { code: 3, message: 'why' });
});
