import { encodeLogs, logsInsertStatement } from '../src/exporters/clickhouse/row-encoder.js';
import { benchmarkBatch } from './workload.js';

/** Building the ClickHouse INSERT for a batch, on one core: rows/s for batches of 10,000 logs. */
const batches = Array.from({ length: 10 }, (_, i) => benchmarkBatch(10_000, i));
let rows = 0;
let bytes = 0;
function insertText(batch: (typeof batches)[number]): string {
  const logs = encodeLogs(batch, 0n);
  return logs.parts.map((rows) => logsInsertStatement('otel.otel_logs', logs, rows)).join('\n');
}
insertText(batches[0]!);
const started = performance.now();
while (performance.now() - started < 3000) {
  for (const b of batches) bytes += insertText(b).length;
  rows += batches.length * 10_000;
}
const seconds = (performance.now() - started) / 1000;
console.log('\nbench:encode — INSERT text for batches of 10,000 realistic log records, one core');
console.log('| rows/s | bytes/row |');
console.log('|---:|---:|');
console.log(`| ${Math.round(rows / seconds).toLocaleString('en')} | ${Math.round(bytes / rows)} |`);
