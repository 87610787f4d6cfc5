import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { builtinComponents } from '../src/components.js';
import type { Processor, ProcessorFactory } from '../src/pipeline/component.js';
import type { LogsConsumer } from '../src/pipeline/consumer.js';
import { cloneBatch, countRecords, type LogBatch } from '../src/pipeline/model.js';
import { Telemetry } from '../src/telemetry/metrics.js';
import { benchmarkBatch } from './workload.js';

/**
 * Processor throughput on one core: logs/s through each processor alone and through the chain
 * attributes → filter → redaction → parse, on batches of 1,000 records of the shared workload
 * (k8s resource, ~100-character bodies with IPs and key=value pairs, 6 attributes). Run with the
 * daemon's Node flags (--max-semi-space-size=64, see src/cli/main.ts). `-- NAME` measures only one
 * processor (or `chain`).
 */
const RECORDS = 1000;
const BATCHES = 100;
const ROUNDS = 9;

const CONFIGS: Record<string, string> = {
  attributes: `
actions:
  - { key: deployment.tier, value: backend, action: insert }
  - { key: user.id, action: hash }
  - { key: http.response.status_code, action: convert, converted_type: string }
  - { key: thread.id, action: delete }
  - { key: http.route, pattern: "^/api/(?P<api_resource>[a-z]+)", action: extract }
`,
  filter: `
error_mode: ignore
min_severity: DEBUG
logs:
  exclude: { match_type: regexp, bodies: ["^GET /healthz"] }
  log_record:
    - 'IsMatch(body, "^healthcheck")'
    - 'attributes["http.route"] == "/metrics" and severity_number < SEVERITY_NUMBER_WARN'
`,
  redaction: `{}`,
  parse: `
timestamp: { layout: "%Y-%m-%dT%H:%M:%S.%f%z" }
`,
  resource: `
attributes:
  - { key: cloud.region, value: eu-west-1, action: upsert }
  - { key: k8s.pod.name, action: hash }
`,
  resourcedetection: `
detectors: [env, system]
`,
};
const CHAIN = ['attributes', 'filter', 'redaction', 'parse'];

const registry = builtinComponents();
const telemetry = new Telemetry();
const logger = pino({ level: 'silent' });
const sink: LogsConsumer = { consume: async () => {} };

async function build(types: string[]): Promise<Processor> {
  let next = sink;
  let first: Processor | undefined;
  for (const type of [...types].reverse()) {
    const factory = registry.get('processor', type) as ProcessorFactory;
    const config = factory.configSchema.parse(parseYaml(CONFIGS[type]!) ?? {});
    const p = factory.create(
      config,
      { id: type, kind: 'processor', logger, telemetry: telemetry.forComponent('processor', type) },
      next,
    );
    await p.start();
    next = first = p;
  }
  return first!;
}

const templates = Array.from({ length: BATCHES }, (_, i) => benchmarkBatch(RECORDS, i));

interface Rates {
  /** logs per second of elapsed time: depressed when other work shares the CPU. */
  wall: number;
  /** logs per second of this process's CPU time (all its threads, GC included): steadier on a shared machine. */
  cpu: number;
}

/**
 * Each batch is copied just before it is processed, as a decoder hands over fresh records; only
 * processing is timed.
 */
async function measure(head: Processor): Promise<{ median: Rates; best: Rates }> {
  const rounds: Rates[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let records = 0;
    let ms = 0;
    let cpuMicros = 0;
    for (const template of templates) {
      const b: LogBatch = cloneBatch(template);
      records += countRecords(b);
      const cpu = process.cpuUsage();
      const started = performance.now();
      await head.consume(b);
      ms += performance.now() - started;
      const used = process.cpuUsage(cpu);
      cpuMicros += used.user + used.system;
    }
    rounds.push({ wall: records / (ms / 1000), cpu: records / (cpuMicros / 1e6) });
  }
  const pick = (key: keyof Rates) => {
    const sorted = rounds.map((r) => r[key]).sort((a, b) => a - b);
    return { median: sorted[Math.floor(sorted.length / 2)]!, best: sorted[sorted.length - 1]! };
  };
  const wall = pick('wall');
  const cpu = pick('cpu');
  return { median: { wall: wall.median, cpu: cpu.median }, best: { wall: wall.best, cpu: cpu.best } };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
console.log(
  `\nbench:processors — ${BATCHES} batches of ${RECORDS.toLocaleString('en')} ` +
    `records (bench/workload.ts), ${ROUNDS} rounds, one core`,
);
console.log('| processor | logs/s, median (best) | logs per CPU-second, median (best) |');
console.log('|---|---:|---:|');
const row = (name: string, r: Awaited<ReturnType<typeof measure>>) =>
  console.log(`| ${name} | ${fmt(r.median.wall)} (${fmt(r.best.wall)}) | ${fmt(r.median.cpu)} (${fmt(r.best.cpu)}) |`);
const only = process.argv[2];
for (const type of [...CHAIN, 'resource', 'resourcedetection'])
  if (!only || only === type) row(type, await measure(await build([type])));
if (only && only !== 'chain') process.exit(0);
row(`chain: ${CHAIN.join(' → ')}`, await measure(await build(CHAIN)));
const masked = (await telemetry.registry.getSingleMetricAsString('otelhouse_processor_redaction_masked_total'))
  .split('\n')
  .filter((l) => !l.startsWith('#'));
console.log(
  `\nredaction masked (all runs): ${masked.map((l) => l.replace(/^.*detector="([^"]+)".* (\d+)$/, '$1=$2')).join(' ')}`,
);
