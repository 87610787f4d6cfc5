import {
  decodeLogsRequest,
  decodeLogsRequestJson,
  encodeLogsRequest,
  encodeLogsRequestJson,
} from '../src/otlp/index.js';
import type { LogBatch } from '../src/pipeline/model.js';
import { benchmarkBatch } from './workload.js';

/**
 * OTLP request decoding alone, on one core: records/s for protobuf and JSON bodies of 1,000 logs.
 * The records are those of the shared workload (k8s resource, trace context, mixed attribute
 * kinds) with the body length and attribute count of typical service logs: ~120-character
 * messages and 8 attributes.
 */
const RECORDS = 1000;
const REQUESTS = 20;

const MESSAGES = [
  (i: number) =>
    `GET /api/orders/${100000 + i} completed status=200 duration_ms=${i % 900} ` +
    `bytes=${(i * 37) % 100000} user=user-${i % 5000} region=eu-west-1 client=mobile-app/4.2.0`,
  (i: number) =>
    `Connection timeout after ${i % 60}s to upstream 10.${i % 255}.${(i >> 3) % 255}.${i % 7}:5432 ` +
    `(pool=orders-primary, in use ${i % 50}/50, retrying in ${(i % 5) + 1}s)`,
  (i: number) =>
    `User user-${i % 5000} logged in from 192.168.${i % 255}.${(i * 7) % 255} using ` +
    `session ${(i * 2654435761) >>> 0} via oauth provider accounts.example.com, mfa=totp`,
  (i: number) =>
    `Cache miss for key product:${i % 20000}:price in region eu-west-1, fetching ` +
    `from primary database (attempt ${(i % 3) + 1} of 3, ttl=300s, shard=${i % 16})`,
  (i: number) =>
    `Payment ${i.toString(16)} authorised for amount ${(i % 10000) / 100} EUR card ` +
    `****${1000 + (i % 9000)} merchant=shop-${i % 40} risk_score=${i % 100} 3ds=frictionless acquirer=adyen`,
];
const FUNCTIONS = ['OrderController.get', 'PaymentService.authorise', 'SessionStore.create', 'PriceCache.lookup'];

function decodeWorkload(seed: number): LogBatch {
  const batch = benchmarkBatch(RECORDS, seed);
  const records = batch.resourceLogs[0]!.scopeLogs[0]!.logRecords;
  records.forEach((r, j) => {
    const i = seed * RECORDS + j;
    r.body = MESSAGES[j % MESSAGES.length]!(i);
    r.attributes['code.function'] = FUNCTIONS[j % FUNCTIONS.length]!;
    r.attributes['feature.flags'] = ['checkout-v2', `cohort-${i % 8}`];
  });
  return batch;
}

const batches = Array.from({ length: REQUESTS }, (_, i) => decodeWorkload(i));
const proto = batches.map((b) => Buffer.from(encodeLogsRequest(b)));
const json = batches.map((b) => Buffer.from(encodeLogsRequestJson(b)));
// Some clients send int64 fields as bare JSON numbers, which takes the decoder's exact-integer path.
const jsonNumbers = json.map((b) =>
  Buffer.from(b.toString().replace(/"(timeUnixNano|observedTimeUnixNano|intValue)":"(-?\d+)"/g, '"$1":$2')),
);

function measure(bodies: Buffer[], decode: (b: Buffer) => unknown, ms: number): number {
  let records = 0;
  const started = performance.now();
  const until = started + ms;
  while (performance.now() < until) {
    for (const b of bodies) decode(b);
    records += bodies.length * RECORDS;
  }
  return records / ((performance.now() - started) / 1000);
}

const cases: Array<[string, Buffer[], (b: Buffer) => unknown]> = [
  ['OTLP protobuf', proto, decodeLogsRequest],
  ['OTLP JSON, int64 as strings', json, decodeLogsRequestJson],
  ['OTLP JSON, int64 as numbers', jsonNumbers, decodeLogsRequestJson],
];
const bodyLength =
  batches[0]!.resourceLogs[0]!.scopeLogs[0]!.logRecords.reduce((n, r) => n + (r.body as string).length, 0) / RECORDS;
console.log(
  `\nbench:decode — requests of ${RECORDS.toLocaleString('en')} log records ` +
    `(bodies ~${Math.round(bodyLength)} characters, 8 attributes), one core`,
);
console.log('| encoding | records/s | MB/s | bytes/record |');
console.log('|---|---:|---:|---:|');
for (const [name, bodies, decode] of cases) {
  measure(bodies, decode, 1000);
  const rate = measure(bodies, decode, 3000);
  const bytesPerRecord = bodies.reduce((n, b) => n + b.length, 0) / (bodies.length * RECORDS);
  console.log(
    `| ${name} | ${Math.round(rate).toLocaleString('en')} ` +
      `| ${((rate * bytesPerRecord) / 1e6).toFixed(0)} | ${Math.round(bytesPerRecord)} |`,
  );
}
