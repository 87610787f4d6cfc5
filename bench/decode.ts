import { decodeLogsRequest, decodeLogsRequestJson, encodeLogsRequest, encodeLogsRequestJson } from '../src/otlp/index.js';
import { benchmarkBatch } from './workload.js';

/** OTLP request decoding alone, on one core: records/s for protobuf and JSON bodies of 1,000 logs. */
const REQUESTS = 20;
const proto = Array.from({ length: REQUESTS }, (_, i) => Buffer.from(encodeLogsRequest(benchmarkBatch(1000, i))));
const json = Array.from({ length: REQUESTS }, (_, i) => Buffer.from(encodeLogsRequestJson(benchmarkBatch(1000, i))));

function measure(bodies: Buffer[], decode: (b: Buffer) => unknown): number {
  let records = 0;
  const until = performance.now() + 3000;
  const started = performance.now();
  while (performance.now() < until) {
    for (const b of bodies) decode(b);
    records += bodies.length * 1000;
  }
  return records / ((performance.now() - started) / 1000);
}

measure(proto, decodeLogsRequest);
const rows: Array<[string, number, number]> = [
  ['OTLP protobuf', measure(proto, decodeLogsRequest), proto[0]!.length],
  ['OTLP JSON', measure(json, decodeLogsRequestJson), json[0]!.length],
];
console.log('\nbench:decode — requests of 1,000 realistic log records, one core');
console.log('| encoding | records/s | bytes/record |');
console.log('|---|---:|---:|');
for (const [name, rate, bytes] of rows) console.log(`| ${name} | ${Math.round(rate).toLocaleString('en')} | ${Math.round(bytes / 1000)} |`);
