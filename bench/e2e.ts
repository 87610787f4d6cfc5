import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDocument, type YAMLSeq } from 'yaml';
import { DEFAULT_DATA_DIR } from './accuracy.js';
import { profileStages, STAGES, type Stage } from './support/cpu-stages.js';

/**
 * End to end, as users run it: the daemon (`main.js run --config config/otelhouse.yaml`, with the
 * Node flags of main.js's first line, as `npm start` and the image give them; the
 * shipped default: OTLP, JSON and syslog receivers, memory_limiter → templates → batch with
 * wait_for_flush, the disk queue, the console) in one process, the load generator in another,
 * sending BENCH_LOGS logs a row (default 500,000: all eight rows took 2½ minutes on the
 * project's 2-core machine at a load average of 3, the build aside; with fewer than ~100,000 the
 * JIT's warm-up shows in the CPU per log) in OTLP/HTTP protobuf requests of 1,000 over
 * BENCH_CONCURRENCY keep-alive connections (default 32: with wait_for_flush a request is answered
 * once its batch of 10,000 is on disk, so with fewer than 10 requests in flight every batch waits
 * out the 200 ms timeout and the clients, not the daemon, set the pace).
 *
 * The config is changed only through the OTELHOUSE_* variables it reads: ports on 127.0.0.1 that
 * are free, data directories in a temporary one, the ClickHouse endpoint. Variants:
 * - embedded: the config as shipped, chDB in the daemon's process: its inserts and merges count;
 * - server: the exporter sends to DiscardingClickHouseHttp (bench/support), a process that reads
 *   and drops what it gets: the figures exclude ClickHouse's own work;
 * - embedded-no-templates, server-no-templates: the same from a copy of the config without the
 *   templates processor in the pipeline (the env cannot remove it).
 * Workloads: five (bench/workload.ts's bodies from five templates) and loghub (the loghub-2k mix,
 * hundreds of templates, from ../shared/data beside the checkout; skipped when absent).
 *
 * Figures, over the time from the first request to the last log exported (the daemon's /stats;
 * chDB's merges still running then are left out): logs/s accepted (the load generator's 200s) and
 * stored; the daemon's CPU per log stored, from /proc/<pid>/stat (all threads, the authority);
 * request latency from the load generator; peak RSS (VmHWM). The CPU is then split by where it
 * went. Node's main thread runs under `--cpu-prof` (sampling); each sample goes to the stage of
 * the innermost frame of its stack that has one (bench/support/cpu-stages.ts: src/otlp and
 * src/receivers decode, src/templates and the templates processor templates, other processors
 * processors, the row encoder encode, node:zlib compress, src/exporterhelper queue,
 * @clickhouse/client, chdb and the exporter's sending send, the collector gc, the rest other),
 * and the stages share the main thread's CPU from /proc/<pid>/task/<pid>/stat in proportion to
 * their samples: idle samples do not count, nor do `(program)` ones (native code outside
 * JavaScript, shown apart as a share). The other threads' CPU is not in that profile and is shown
 * as /proc counts it, in two parts, since Node 20 leaves its threads unnamed: node threads
 * (libuv's pool, where @clickhouse/client gzips INSERT bodies, the disk queue writes and syncs,
 * and chdb runs its queries in embedded mode; V8's GC and compiler helpers; the templates pool's
 * worker, which takes only batches over 5,000 logs, while the processor sees requests of 1,000),
 * and chDB threads (the threads chDB names, and any that ended during the run). The profiler's
 * own threads (v8:ProfEvntProc) are left out of every figure; its sampling still costs the main
 * thread a little. The templates pool's worker writes a profile of its own, which is not read.
 *
 * `--workers N[,M…]` runs the server rows with service.workers: N (OTELHOUSE_WORKERS), once for each
 * N; the embedded rows run with one (chDB opens in one process). With several, every figure is
 * the sum over the processes: the primary and its workers (CPU, peak RSS, each worker's profile for
 * the stages; the primary's main thread counts as other).
 *
 * The machine may be shared: the load average is printed at the start and end of each row.
 * `--taskset` pins the load generator and DiscardingClickHouseHttp to CPU 0 and the daemon to CPU 1.
 */
const USAGE =
  'usage: [BENCH_LOGS=N] [BENCH_CONCURRENCY=N] npm run bench:e2e -- [--variant NAME[,NAME]] ' +
  '[--workload five|loghub[,…]] [--workers N[,N…]] [--taskset]\n' +
  '  variants: embedded, server, server-no-templates, embedded-no-templates (all by default)';
const VARIANTS = {
  embedded: { server: false, templates: true },
  server: { server: true, templates: true },
  'server-no-templates': { server: true, templates: false },
  'embedded-no-templates': { server: false, templates: false },
};
type Variant = keyof typeof VARIANTS;
const WORKLOADS = ['five', 'loghub'] as const;
type Workload = (typeof WORKLOADS)[number];
const PER_REQUEST = 1000;
const REQUESTS = Math.ceil(Number(process.env.BENCH_LOGS ?? 500_000) / PER_REQUEST);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
/** USER_HZ: the unit of /proc's CPU times. */
const TICKS_PER_SECOND = 100;

const root = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED_CONFIG = join(root, 'config/otelhouse.yaml');
const CLI = join(root, 'dist/src/cli/main.js');
/** The Node flags of the CLI's first line (`#!/usr/bin/env -S node …`), as `npm start` and the image run it. */
const CLI_NODE_FLAGS = readFileSync(CLI, 'utf8')
  .split('\n', 1)[0]!
  .split(' ')
  .filter((a) => a.startsWith('--'));
const NO_TEMPLATES_CHANGE = '`templates` taken out of service.pipelines.logs.processors';

function list<T extends string>(value: string | undefined, all: readonly T[], what: string): T[] {
  if (value === undefined) return [...all];
  const names = value.split(',');
  for (const n of names) if (!all.includes(n as T)) fail(`no ${what} ${n}`);
  return names as T[];
}

function fail(message: string): never {
  console.error(`bench:e2e: ${message}\n${USAGE}`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    workload: { type: 'string' },
    workers: { type: 'string', default: '1' },
    taskset: { type: 'boolean' },
  },
});
const workerCounts = values.workers.split(',').map((w) => {
  const n = Number(w);
  if (!Number.isInteger(n) || n < 1) fail(`--workers: not a number of processes: ${w}`);
  return n;
});
const variants = list(values.variant, Object.keys(VARIANTS) as Variant[], 'variant');
let workloads = list(values.workload, WORKLOADS, 'workload');
const skipped: string[] = [];
if (workloads.includes('loghub') && !existsSync(join(DEFAULT_DATA_DIR, 'datasets.json'))) {
  workloads = workloads.filter((w) => w !== 'loghub');
  skipped.push(`loghub rows skipped: no loghub-2k samples at ${DEFAULT_DATA_DIR}`);
}
const pinned = values.taskset === true && availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;
if (values.taskset && !pinned) skipped.push('--taskset ignored: no taskset, or fewer than 2 cores');

/** `command` on `cpu` when pinning. */
function onCpu(cpu: number, command: string[]): [string, string[]] {
  return pinned ? ['taskset', ['-c', String(cpu), ...command]] : [command[0]!, command.slice(1)];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      lines.close();
      resolve(line);
    });
    child.once('close', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited (${code})`)));
  });
}

/**
 * CPU ticks of the processes (every thread they ran, ended ones too) and of each thread they have
 * now, keyed by thread id (unique across processes).
 */
interface CpuSnapshot {
  at: number;
  process: number;
  threads: Map<number, { comm: string; ticks: number }>;
}

/** The daemon's processes: its own, and with service.workers > 1 its workers. */
function processTree(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // ended since the listing
    }
  }
  return [pid, ...children];
}

function statTicks(file: string): { comm: string; ticks: number } {
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    ticks: Number(fields[11]) + Number(fields[12]),
  };
}

function snapshot(pids: number[]): CpuSnapshot {
  const threads = new Map<number, { comm: string; ticks: number }>();
  let ticks = 0;
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.set(Number(tid), statTicks(`/proc/${pid}/task/${tid}/stat`));
      } catch {
        // ended since the listing
      }
    }
    ticks += statTicks(`/proc/${pid}/stat`).ticks;
  }
  return { at: Number(process.hrtime.bigint() / 1000n), process: ticks, threads };
}

/** CPU ticks of the run: all of it, the main threads', node's other threads', and chDB's (the rest). */
function threadSplit(pids: number[], start: CpuSnapshot, end: CpuSnapshot) {
  let main = 0;
  let node = 0;
  let profiler = 0;
  const mains = new Map<number, number>();
  for (const [tid, { comm, ticks }] of end.threads) {
    const used = ticks - (start.threads.get(tid)?.ticks ?? 0);
    if (pids.includes(tid)) {
      main += used;
      mains.set(tid, used);
    } else if (comm === 'v8:ProfEvntProc') profiler += used;
    else if (comm === 'node') node += used;
  }
  const all = end.process - start.process - profiler;
  // Each thread's times and the process's are rounded apart: what is left within the rounding is none.
  return { all, main, node, chdb: Math.max(0, all - main - node), mains };
}

/** The sum of the processes' peaks: what they could hold at once at most. */
function peakRssMiB(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    kib += m ? Number(m[1]) : NaN;
  }
  return kib / 1024;
}

async function daemonStats(port: number): Promise<{ exported: number; templates?: number }> {
  const s = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as {
    processors: { templates?: { new_templates?: number } };
    exporters: { clickhouse?: { exported?: number } };
  };
  return { exported: s.exporters.clickhouse?.exported ?? 0, templates: s.processors.templates?.new_templates };
}

/** The shipped config without the templates processor, written into `dir`. */
function configWithoutTemplates(dir: string): string {
  const doc = parseDocument(readFileSync(SHIPPED_CONFIG, 'utf8'));
  const processors = doc.getIn(['service', 'pipelines', 'logs', 'processors']) as YAMLSeq<{ value: string }>;
  const at = processors.items.findIndex((p) => p.value === 'templates');
  if (at < 0) throw new Error(`${SHIPPED_CONFIG}: no templates processor in the logs pipeline`);
  processors.delete(at);
  const file = join(dir, 'otelhouse-no-templates.yaml');
  writeFileSync(file, doc.toString({ flowCollectionPadding: false }));
  return file;
}

interface Row {
  variant: Variant;
  workload: Workload;
  workers: number;
  refused: number;
  acceptedPerSecond: number;
  storedPerSecond: number;
  p50: number;
  p99: number;
  rss: number;
  templates: number | undefined;
  clickhouseBytes: number | undefined;
  /** CPU µs per log stored. */
  cpu: { all: number; main: number; node: number; chdb: number; stages: Record<Stage, number>; program: number };
  load: [number, number];
}

async function run(variant: Variant, workload: Workload, workers: number): Promise<Row> {
  const { server, templates } = VARIANTS[variant];
  const dir = mkdtempSync(join(tmpdir(), 'otelhouse-bench-'));
  const children: ChildProcess[] = [];
  try {
    const loadAtStart = loadavg()[0]!;
    let clickhouse: ChildProcess | undefined;
    let endpoint = `embedded://${join(dir, 'clickhouse')}`;
    if (server) {
      const [cmd, args] = onCpu(0, [process.execPath, join(root, 'dist/bench/support/discarding-clickhouse-http.js')]);
      clickhouse = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(clickhouse);
      endpoint = `http://127.0.0.1:${(JSON.parse(await firstLine(clickhouse)) as { port: number }).port}`;
    }
    const ports = { otlp: await freePort(), telemetry: await freePort() };
    const address = async () => `127.0.0.1:${await freePort()}`;
    const env = {
      ...process.env,
      OTELHOUSE_OTLP_GRPC_ENDPOINT: await address(),
      OTELHOUSE_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.otlp}`,
      OTELHOUSE_JSON_INGEST_ENDPOINT: await address(),
      OTELHOUSE_SYSLOG_ENDPOINT: await address(),
      OTELHOUSE_CONSOLE_ENDPOINT: await address(),
      OTELHOUSE_TELEMETRY_ADDRESS: `127.0.0.1:${ports.telemetry}`,
      OTELHOUSE_CLICKHOUSE_ENDPOINT: endpoint,
      OTELHOUSE_QUEUE_DIR: join(dir, 'queue'),
      OTELHOUSE_DEAD_LETTER_DIR: join(dir, 'dead_letter'),
      OTELHOUSE_WORKERS: String(workers),
    };
    const config = templates ? SHIPPED_CONFIG : configWithoutTemplates(dir);
    const profiles = join(dir, 'cpu-profile');
    const [cmd, args] = onCpu(1, [
      process.execPath,
      ...CLI_NODE_FLAGS,
      '--cpu-prof',
      `--cpu-prof-dir=${profiles}`,
      CLI,
      'run',
      '--config',
      config,
    ]);
    const daemon = spawn(cmd, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(daemon);
    const log: Buffer[] = [];
    for (const output of [daemon.stdout!, daemon.stderr!]) output.on('data', (d: Buffer) => log.push(d));
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve));
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${ports.telemetry}/health`)).ok) break;
      } catch {
        // not listening yet
      }
      if (i > 600 || daemon.exitCode !== null)
        throw new Error(`the daemon did not start:\n${Buffer.concat(log).toString().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const pid = daemon.pid!;
    const pids = processTree(pid);
    if (pids.length !== (workers > 1 ? workers + 1 : 1))
      throw new Error(`expected ${workers} worker processes under ${pid}, found ${pids.length - 1}`);
    const loadArgs = [String(ports.otlp), String(REQUESTS), String(PER_REQUEST), String(CONCURRENCY)];
    if (workload === 'loghub') loadArgs.push(DEFAULT_DATA_DIR);
    const [lcmd, largs] = onCpu(0, [process.execPath, join(root, 'dist/bench/loadgen.js'), ...loadArgs]);
    const loadgen = spawn(lcmd, largs, { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(loadgen);
    await firstLine(loadgen);
    const start = snapshot(pids);
    loadgen.stdin!.end('go\n');
    const load = JSON.parse(await firstLine(loadgen)) as {
      acceptedRecords: number;
      refused: number;
      seconds: number;
      p50: number;
      p99: number;
    };
    let stats = await daemonStats(ports.telemetry);
    while (stats.exported < load.acceptedRecords) {
      await new Promise((r) => setTimeout(r, 50));
      stats = await daemonStats(ports.telemetry);
    }
    const end = snapshot(pids);
    const rss = peakRssMiB(pids);
    daemon.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`the daemon exited with ${code} on SIGTERM`);
    const profileOf = (p: number) =>
      readdirSync(profiles).find((f) => f.includes(`.${p}.0.`) && f.endsWith('.cpuprofile'));
    for (const p of pids)
      if (!profileOf(p)) throw new Error(`process ${p} wrote no CPU profile of its main thread in ${profiles}`);
    let clickhouseBytes: number | undefined;
    if (clickhouse) {
      const received = firstLine(clickhouse);
      clickhouse.kill('SIGTERM');
      clickhouseBytes = (JSON.parse(await received) as { statementBytes: number }).statementBytes;
    }

    const stored = stats.exported;
    const perLog = (ticks: number) => (ticks / TICKS_PER_SECOND / stored) * 1e6;
    const threads = threadSplit(pids, start, end);
    const stages = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
    let busySamples = 0;
    let programSamples = 0;
    for (const p of pids) {
      const samples = profileStages(join(profiles, profileOf(p)!), start.at, end.at);
      const busy = STAGES.reduce((n, s) => n + samples[s], 0);
      const mainTicks = threads.mains.get(p) ?? 0;
      // The primary of several workers runs no pipeline: its main thread (accept, IPC) is other.
      if (workers > 1 && p === pid) stages.other += perLog(mainTicks);
      else for (const s of STAGES) stages[s] += (perLog(mainTicks) * samples[s]) / Math.max(busy, 1);
      busySamples += busy;
      programSamples += samples.program;
    }
    const seconds = (end.at - start.at) / 1e6;
    return {
      variant,
      workload,
      workers,
      refused: load.refused,
      acceptedPerSecond: load.acceptedRecords / load.seconds,
      storedPerSecond: stored / seconds,
      p50: load.p50,
      p99: load.p99,
      rss,
      templates: stats.templates,
      clickhouseBytes: clickhouseBytes === undefined ? undefined : clickhouseBytes / stored,
      cpu: {
        all: perLog(threads.all),
        main: perLog(threads.main),
        node: perLog(threads.node),
        chdb: perLog(threads.chdb),
        stages,
        program: programSamples / Math.max(busySamples + programSamples, 1),
      },
      load: [loadAtStart, loadavg()[0]!],
    };
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const n = (x: number) => Math.round(x).toLocaleString('en');
const f1 = (x: number) => x.toFixed(1);
const loadAtStart = loadavg().map(f1).join(' ');
console.log(
  `\nbench:e2e — ${SHIPPED_CONFIG.slice(root.length)} as the daemon loads it (OTELHOUSE_* env: free ports, ` +
    `a temporary data directory, the ClickHouse endpoint); ${n(REQUESTS * PER_REQUEST)} logs a row, ` +
    `${PER_REQUEST.toLocaleString('en')} a request (OTLP/HTTP protobuf), ${CONCURRENCY} connections; ` +
    `${availableParallelism()} cores, load average ${loadAtStart} at start`,
);
if (pinned) console.log('taskset: the load generator and DiscardingClickHouseHttp on CPU 0, the daemon on CPU 1');
if (variants.some((v) => VARIANTS[v].server))
  console.log(
    'server rows: the exporter sends to DiscardingClickHouseHttp, which drops what it gets: ' +
      "their figures exclude ClickHouse's own work",
  );
if (variants.some((v) => !VARIANTS[v].templates))
  console.log(`*-no-templates rows: a copy of ${SHIPPED_CONFIG.slice(root.length)} with ${NO_TEMPLATES_CHANGE}`);
for (const s of skipped) console.log(s);

const rows: Row[] = [];
for (const workload of workloads) {
  for (const variant of variants) {
    for (const workers of VARIANTS[variant].server ? workerCounts : [1]) {
      process.stderr.write(`bench:e2e: ${variant} / ${workload} / ${workers} worker(s)…\n`);
      rows.push(await run(variant, workload, workers));
    }
  }
}

console.log(
  '\n| variant | workload | workers | logs/s accepted | logs/s stored | CPU µs/log | p50 ms | p99 ms | ' +
    'peak RSS MiB | templates | to ClickHouse B/log | refused | load 1m start→end |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) {
  const cells = [
    r.variant,
    r.workload,
    r.workers,
    n(r.acceptedPerSecond),
    n(r.storedPerSecond),
    f1(r.cpu.all),
    f1(r.p50),
    f1(r.p99),
    n(r.rss),
    r.templates === undefined ? '—' : n(r.templates),
    r.clickhouseBytes === undefined ? '—' : f1(r.clickhouseBytes),
    n(r.refused),
    `${f1(r.load[0])}→${f1(r.load[1])}`,
  ];
  console.log(`| ${cells.join(' | ')} |`);
}

console.log(
  '\nCPU µs per log stored, by where it went. Main thread: its CPU shared by its profile samples; ' +
    '"native": the share of its busy samples in (program), spread over the stages. ' +
    'Node threads: libuv pool (gzip, disk queue, chdb queries), V8 helpers, templates pool. ' +
    'chDB threads: those chDB names, and threads that ended.',
);
console.log(
  `\n| variant | workload | workers | ${STAGES.join(' | ')} | main thread | native | node threads | chDB threads ` +
    '| all |',
);
console.log(`|---|---|---:|${'---:|'.repeat(STAGES.length + 5)}`);
for (const r of rows) {
  const cells = [
    r.variant,
    r.workload,
    r.workers,
    ...STAGES.map((s) => f1(r.cpu.stages[s])),
    f1(r.cpu.main),
    `${Math.round(r.cpu.program * 100)} %`,
    f1(r.cpu.node),
    f1(r.cpu.chdb),
    f1(r.cpu.all),
  ];
  console.log(`| ${cells.join(' | ')} |`);
}
console.log(`\nload average ${loadAtStart} at start, ${loadavg().map(f1).join(' ')} at end`);
