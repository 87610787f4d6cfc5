import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * End-to-end throughput: the daemon (otlp http → batch → clickhouse embedded) in one process, the
 * load generator in another, on the same machine. Prints logs/s accepted and stored, request
 * latency and the daemon's peak RSS.
 * Env: BENCH_LOGS (default 1,000,000), BENCH_CONCURRENCY (default 8).
 * `--queue disk` puts the exporter's sending queue on disk (fsync every second) instead of in memory;
 * `--wait-for-flush` makes the batch processor answer requests only once their batch is queued.
 */
const TOTAL = Number(process.env.BENCH_LOGS ?? 1_000_000);
const PER_REQUEST = 1000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'otelhouse-bench-'));
const httpPort = 14318 + Math.floor(Math.random() * 1000);
const telemetryPort = httpPort + 1000;
const queueArg = process.argv.indexOf('--queue');
const queue = queueArg >= 0 ? process.argv[queueArg + 1] : 'memory';
if (queue !== 'memory' && queue !== 'disk') throw new Error('--queue takes memory or disk');
const storage = queue === 'disk' ? `, storage: ${join(dir, 'queue')}` : '';
const waitForFlush = process.argv.includes('--wait-for-flush');

writeFileSync(
  join(dir, 'bench.yaml'),
  `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  batch: { send_batch_size: 10000, send_batch_max_size: 20000, timeout: 200ms, ` +
    `max_pending_records: 40000, wait_for_flush: ${waitForFlush} }
exporters:
  clickhouse:
    endpoint: embedded://${join(dir, 'store')}
    sending_queue: { num_consumers: 2, queue_size: 60000${storage} }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:${telemetryPort} }
    logs: { level: warn }
`,
);

async function stats(): Promise<{ exported: number }> {
  const s = (await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as {
    exporters: { clickhouse?: { exported?: number } };
  };
  return { exported: s.exporters.clickhouse?.exported ?? 0 };
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds the process used (all threads: Node's and chDB's), from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const daemon = spawn(cli, ['run', '--config', join(dir, 'bench.yaml')], {
  cwd: dir,
  stdio: ['ignore', 'ignore', 'inherit'],
});
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${telemetryPort}/health`)).ok) break;
  } catch {
    if (i > 300) throw new Error('daemon did not start');
  }
  await new Promise((r) => setTimeout(r, 100));
}

const started = performance.now();
const loadgen = spawn(
  process.execPath,
  [
    join(root, 'dist/bench/loadgen.js'),
    String(httpPort),
    String(TOTAL / PER_REQUEST),
    String(PER_REQUEST),
    String(CONCURRENCY),
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let out = '';
loadgen.stdout.on('data', (d: Buffer) => (out += d.toString()));
await new Promise((r) => loadgen.once('close', r));
const load = JSON.parse(out) as { acceptedRecords: number; refused: number; seconds: number; p50: number; p99: number };
while ((await stats()).exported < load.acceptedRecords) await new Promise((r) => setTimeout(r, 50));
const storedSeconds = (performance.now() - started) / 1000;
const rss = peakRssMiB(daemon.pid!);
const cpu = cpuSeconds(daemon.pid!);
daemon.kill('SIGTERM');
await new Promise((r) => daemon.once('close', r));
rmSync(dir, { recursive: true, force: true });

const row = (k: string, v: string) => console.log(`| ${k.padEnd(34)} | ${v.padStart(14)} |`);
console.log(
  `\nbench:e2e — ${TOTAL.toLocaleString('en')} logs, ${PER_REQUEST} per OTLP/HTTP protobuf ` +
    `request, ${CONCURRENCY} connections, embedded ClickHouse, sending ` +
    `queue ${queue === 'disk' ? 'on disk' : 'in memory'}${waitForFlush ? ', batch wait_for_flush' : ''}`,
);
row('metric', 'value');
console.log(`|${'-'.repeat(36)}|${'-'.repeat(16)}|`);
row('logs/s accepted', Math.round(load.acceptedRecords / load.seconds).toLocaleString('en'));
row('logs/s stored (end to end)', Math.round(load.acceptedRecords / storedSeconds).toLocaleString('en'));
row('request latency p50 (ms)', load.p50.toFixed(1));
row('request latency p99 (ms)', load.p99.toFixed(1));
row('requests refused (back-pressure)', String(load.refused));
row('daemon peak RSS (MiB)', rss.toFixed(0));
row('daemon CPU per log (µs)', ((cpu / load.acceptedRecords) * 1e6).toFixed(1));
