import { encodeLogs } from '../src/exporters/clickhouse/row-encoder.js';
import { benchmarkBatch } from './workload.js';

/**
 * Encoding a batch for the logs insert, on one core: rows/s for batches of 10,000 logs, from the
 * decoded batch to its parts' zstd frames (what the queue stores), and the bytes a row takes
 * before and after compression.
 */
const batches = Array.from({ length: 10 }, (_, i) => benchmarkBatch(10_000, i));
let rows = 0;
let bytes = 0;
let compressed = 0;
encodeLogs(batches[0]!, 0n);
const started = performance.now();
while (performance.now() - started < 3000) {
  for (const b of batches) {
    for (const part of encodeLogs(b, 0n).parts) {
      bytes += part.bytes;
      compressed += part.zstd.length;
    }
  }
  rows += batches.length * 10_000;
}
const seconds = (performance.now() - started) / 1000;
console.log('\nbench:encode — rows for batches of 10,000 realistic log records, zstd-compressed, one core');
console.log('| rows/s | bytes/row | zstd bytes/row |');
console.log('|---:|---:|---:|');
const rowsPerSecond = Math.round(rows / seconds).toLocaleString('en');
console.log(`| ${rowsPerSecond} | ${Math.round(bytes / rows)} | ${Math.round(compressed / rows)} |`);
