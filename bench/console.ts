import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { pino } from 'pino';
import { loadConfig, startDaemon } from '../src/daemon.js';
import type { ConsoleExtension } from '../src/extensions/console/console.js';

/**
 * The console API's latency on 1,000,000 stored rows over the last 24 h (200 templates, 20
 * services), through HTTP as the web console asks it: p50/p95 of a search by text, by template,
 * the templates list over 24 h, and a few more. The rows are inserted straight into the store
 * (INSERT … SELECT in the engine), not through the pipeline, to keep the set-up short.
 */
const ROWS = Number(process.env.BENCH_CONSOLE_ROWS ?? 1_000_000);
const TEMPLATES = 200;
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 40);
const DAY_NS = 86_400_000_000_000n;

/** BENCH_CONSOLE_DIR keeps the store there between runs (loaded once). */
const keep = process.env.BENCH_CONSOLE_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'otelhouse-bench-console-'));
const store = join(dir, 'clickhouse');
const config = loadConfig({
  text: `
receivers:
  json_ingest: { endpoint: 127.0.0.1:0 }
processors:
  batch: {}
exporters:
  clickhouse: { endpoint: "embedded://${store}" }
extensions:
  console: { endpoint: 127.0.0.1:0 }
service:
  extensions: [console]
  pipelines:
    logs: { receivers: [json_ingest], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`,
});
const daemon = await startDaemon(config, pino({ level: 'warn' }));
const port = (daemon.service.extensions.find((e) => e.id === 'console')!.component as ConsoleExtension).port;
const client = createClient({ connection: createChdbConnection({ path: store }) } as Parameters<
  typeof createClient
>[0]);

const nowNs = BigInt(Date.now()) * 1_000_000n;
const loadStarted = performance.now();
const CHUNK = 100_000;
const [{ n: stored }] = await (
  await client.query({ query: 'SELECT count() AS n FROM otel.otel_logs', format: 'JSONEachRow' })
).json<{ n: number }>();
for (let start = Number(stored) > 0 ? ROWS : 0; start < ROWS; start += CHUNK) {
  await client.command({
    query:
      `
INSERT INTO otel.otel_logs (Timestamp, ObservedTimestamp, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, ` +
      `ServiceName, Body, ResourceAttributes, ScopeName, LogAttributes, TemplateId, TemplateParams)
SELECT ts, ts, lower(hex(toUInt128(cityHash64(n)) * 18446744073709551615)) , lower(hex(cityHash64(n, 1))), 1,
       multiIf(n % 10 = 0, 'ERROR', n % 10 = 1, 'WARN', 'INFO'), multiIf(n % 10 = 0, 17, n % 10 = 1, 13, 9),
       concat('svc-', toString(n % 20)), concat('Event type ', toString(t), ' for user ', p1, ' took ', p2, ' ms'),
       map('service.name', concat('svc-', toString(n % 20)), 'host.name', concat('node-', toString(n % 7))), 'bench',
       map('user', p1, 'region', if(n % 2 = 0, 'eu', 'us')), toUInt64(1000000 + t), [p1, p2]
FROM (SELECT number + ${start} AS n, (n * 7919) % ${TEMPLATES} AS t, ` +
      `concat('user', toString(cityHash64(n) % 5000)) AS p1, toString(n % 1000) AS p2,
             fromUnixTimestamp64Nano(toInt64(${nowNs} - intDiv(toUInt64(n) * ${DAY_NS}, ${ROWS}))) AS ts
      FROM numbers(${Math.min(CHUNK, ROWS - start)}))`,
  });
}
if (Number(stored) === 0)
  await client.command({
    query:
      `
INSERT INTO otel.log_templates (TemplateId, Text, FirstSeen, LastSeen, Count, Services, ` +
      `MaxSeverityNumber, MaxSeverityText, Sample, ReplacedIds, Source)
SELECT toUInt64(1000000 + number), concat('Event type ', toString(number), ' for user <*> took <*> ms'),
       fromUnixTimestamp64Nano(toInt64(${nowNs - DAY_NS})), ` +
      `fromUnixTimestamp64Nano(toInt64(${nowNs})), ${Math.round(ROWS / TEMPLATES)},
       arrayMap(i -> concat('svc-', toString(i)), range(20)), 17, (17, 'ERROR'), ` +
      `concat('Event type ', toString(number), ' for user user1 took 1 ms'), [], 'miner'
FROM numbers(${TEMPLATES})`,
  });
await client.command({ query: 'SYSTEM RELOAD DICTIONARIES' });
await client.command({ query: 'OPTIMIZE TABLE otel.otel_logs FINAL' });
const loadSeconds = (performance.now() - loadStarted) / 1000;

async function timed(path: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = -3; i < RUNS; i++) {
    const started = performance.now();
    const res = await fetch(
      `http://127.0.0.1:${port}` +
        path.replaceAll('{i}', String(i + 10)).replaceAll('{template}', String(1_000_000 + ((i + 10) % TEMPLATES))),
    );
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${body.slice(0, 300)}`);
    if (i >= 0) times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const cases: Array<[string, string]> = [
  ['search by text (a user: ~200 of 1M rows), 24 h', '/api/v1/logs?q=user{i}&from=-24h'],
  ['search by text (two words, a phrase), 24 h', '/api/v1/logs?q=took%20{i}%20ms&from=-24h'],
  ['histogram of a text search (a user), 24 h', '/api/v1/logs/histogram?q=user{i}&from=-24h'],
  ['search by template (5,000 of 1M rows), 24 h', '/api/v1/logs?template={template}&from=-24h'],
  ['templates list, 24 h (hourly table)', '/api/v1/templates?from=-24h'],
  ['templates list, 1 h (from the logs)', '/api/v1/templates?from=-1h'],
  ['latest logs, 1 h, no filter', '/api/v1/logs'],
  ['histogram, 24 h, severity ≥ warn', '/api/v1/logs/histogram?from=-24h&severity=warn'],
  ['template detail with parameter distribution, 24 h', '/api/v1/templates/{template}?from=-24h'],
];
console.log(
  `\nbench:console — ${ROWS.toLocaleString('en')} rows in embedded ClickHouse over 24 h (${TEMPLATES} ` +
    `templates, 20 services; loaded in ${loadSeconds.toFixed(1)} s), ${RUNS} runs each over HTTP`,
);
// Other work on the machine shows in every figure: the load is printed with them.
console.log(
  `load average at the start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(', ')} (${availableParallelism()} cores)`,
);
console.log('| query | p50 ms | p95 ms |');
console.log('|---|---:|---:|');
for (const [name, path] of cases) {
  const times = await timed(path);
  console.log(`| ${name} | ${pct(times, 50).toFixed(0)} | ${pct(times, 95).toFixed(0)} |`);
}
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(', ')}`,
);
await client.close();
await daemon.stop();
if (!keep) rmSync(dir, { recursive: true, force: true });
