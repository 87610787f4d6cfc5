import { encodeInsert } from '../src/exporters/clickhouse/row-encoder.js';
import { benchmarkBatch } from './workload.js';

/** Building the ClickHouse INSERT for a batch, on one core: rows/s for batches of 10,000 logs. */
const batches = Array.from({ length: 10 }, (_, i) => benchmarkBatch(10_000, i));
let rows = 0;
let bytes = 0;
encodeInsert(batches[0]!, 'otel.otel_logs', 0n);
const started = performance.now();
while (performance.now() - started < 3000) {
  for (const b of batches) bytes += encodeInsert(b, 'otel.otel_logs', 0n).length;
  rows += batches.length * 10_000;
}
const seconds = (performance.now() - started) / 1000;
console.log('\nbench:encode — INSERT text for batches of 10,000 realistic log records, one core');
console.log('| rows/s | bytes/row |');
console.log('|---:|---:|');
console.log(`| ${Math.round(rows / seconds).toLocaleString('en')} | ${Math.round(bytes / rows)} |`);
