import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR } from './accuracy.js';
import { loghubMix } from './loghub.js';
import { TemplateEngine } from '../src/templates/engine.js';
import { defaultPoolSize } from '../src/templates/pool.js';
import { templatesConfigSchema } from '../src/processors/templates/config.js';

/**
 * Template matching and mining throughput on a 1,000,000-line mix of the loghub-2k samples
 * (their messages, interleaved, repeated). Matching is measured once every template is learned,
 * for batch sizes 100, 1,000, 8,192 and 10,000, inline and on the worker pool; mining from cold starts
 * from an empty template set. Figures include building each record's parameter strings.
 *
 * `--baseline REF` builds REF (a commit) in a temporary worktree and measures its template engine
 * and this one with this harness, alternately, `--rounds` times each, then prints the best figure
 * of each side by side: the machine's noise (±20 % here) is in both, and the comparison is made in
 * one run.
 */
const LINES = 1_000_000;
/** Batch sizes: an SDK's request (512 by default) is near 1,000; the OTel batch processor sends 8,192. */
const SIZES = [100, 1000, 8192, 10000];
/** What the templates processor does by default: pooled above this many records. */
const DEFAULT_THRESHOLD = (templatesConfigSchema.parse({}) as { parallel_threshold: number }).parallel_threshold;

function batches(lines: string[], size: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < lines.length; i += size) out.push(lines.slice(i, i + size));
  return out;
}

type Engine = Pick<TemplateEngine, 'assign' | 'close' | 'templateCount'>;
type EngineClass = new (options: ConstructorParameters<typeof TemplateEngine>[0]) => Engine;

async function rate(engine: Engine, work: string[][]): Promise<number> {
  const started = performance.now();
  let n = 0;
  for (const b of work) n += (await engine.assign('', b)).length;
  return n / ((performance.now() - started) / 1000);
}

interface Figures {
  templates: number;
  mining: number;
  matching: Record<string, { inline: number; pool: number }>;
}

async function measure(dataDir: string, Engine: EngineClass, threads: number): Promise<Figures> {
  const lines = loghubMix(dataDir, LINES);
  const cold = new Engine({ miner: {}, parallelThreshold: Infinity, poolSize: 0, masking: [] });
  const mining = await rate(cold, batches(lines, 1000));
  const inline = new Engine({ miner: {}, parallelThreshold: Infinity, poolSize: 0, masking: [] });
  const pooled = new Engine({ miner: {}, parallelThreshold: 0, poolSize: threads, masking: [] });
  for (const e of [inline, pooled]) await e.assign('', lines.slice(0, 200_000));
  const matching: Figures['matching'] = {};
  for (const size of SIZES) {
    const work = batches(lines, size);
    await rate(inline, work.slice(0, Math.ceil(work.length / 10)));
    const inlineRate = await rate(inline, work);
    await rate(pooled, work.slice(0, Math.ceil(work.length / 10)));
    const poolRate = await rate(pooled, work);
    matching[String(size)] = { inline: inlineRate, pool: poolRate };
  }
  await pooled.close();
  return { templates: cold.templateCount, mining, matching };
}

const n = (x: number) => Math.round(x).toLocaleString('en');
const defaultPath = (size: number) => (size > DEFAULT_THRESHOLD ? 'pool' : 'inline');
const mark = (where: string, size: string) => (where === defaultPath(Number(size)) ? ' (default)' : '');

function printFigures(f: Figures, dataDir: string): void {
  const lines = loghubMix(dataDir, LINES);
  const bytes = lines.reduce((m, l) => m + Buffer.byteLength(l), 0) / lines.length;
  console.log(
    `\nbench:templates — ${LINES.toLocaleString('en')} messages (loghub-2k mix, ` +
      `~${Math.round(bytes)} bytes each), ${f.templates} templates, ${availableParallelism()} cores`,
  );
  console.log(`mining from cold (empty template set, batches of 1,000, inline): ${n(f.mining)} logs/s`);
  console.log(`matching, every template learned; the pool has ${defaultPoolSize()} workers and this thread`);
  console.log('| batch size | inline logs/s | pool logs/s | default path |');
  console.log('|---:|---:|---:|---|');
  for (const [size, r] of Object.entries(f.matching))
    console.log(
      `| ${Number(size).toLocaleString('en')} | ${n(r.inline)} | ${n(r.pool)} | ${defaultPath(Number(size))} |`,
    );
}

function best(runs: Figures[]): Figures {
  const out: Figures = { templates: runs[0]!.templates, mining: Math.max(...runs.map((r) => r.mining)), matching: {} };
  for (const size of Object.keys(runs[0]!.matching)) {
    out.matching[size] = {
      inline: Math.max(...runs.map((r) => r.matching[size]!.inline)),
      pool: Math.max(...runs.map((r) => r.matching[size]!.pool)),
    };
  }
  return out;
}

function runChild(dataDir: string, engine?: string): Figures {
  const args = [fileURLToPath(import.meta.url), '--json', dataDir, ...(engine ? ['--engine', engine] : [])];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 })) as Figures;
}

/** The baseline commit built in a temporary worktree that shares this checkout's node_modules. */
function buildBaseline(ref: string): { engine: string; remove: () => void } {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const sha = execFileSync('git', ['-C', root, 'rev-parse', '--short', ref], { encoding: 'utf8' }).trim();
  const dir = path.join(tmpdir(), `otelhouse-baseline-${sha}-${process.pid}`);
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', dir, sha], { stdio: 'ignore' });
  const remove = () => {
    execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    execFileSync(
      process.execPath,
      [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(dir, 'tsconfig.json')],
      { stdio: 'inherit' },
    );
  } catch (err) {
    remove();
    throw err;
  }
  return { engine: path.join(dir, 'dist/src/templates/engine.js'), remove };
}

const USAGE = 'usage: npm run bench:templates -- [DATA_DIR] [--baseline REF [--rounds N]]';
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string' },
    json: { type: 'boolean' },
    engine: { type: 'string' },
  },
});
const dataDir = positionals[0] ?? DEFAULT_DATA_DIR;
if (!existsSync(path.join(dataDir, 'datasets.json'))) {
  console.error(
    `bench:templates: no datasets at ${dataDir} (expected ../shared/data/loghub-2k beside the checkout)\n${USAGE}`,
  );
  process.exit(1);
}
if (values.json) {
  const engine = values.engine
    ? ((await import(values.engine)) as { TemplateEngine: EngineClass }).TemplateEngine
    : TemplateEngine;
  // A baseline's pool at its own default size then: the cores.
  console.log(
    JSON.stringify(await measure(dataDir, engine, values.engine ? availableParallelism() : defaultPoolSize())),
  );
} else if (!values.baseline) {
  printFigures(await measure(dataDir, TemplateEngine, defaultPoolSize()), dataDir);
} else {
  const rounds = Number(values.rounds ?? 2);
  const baseline = buildBaseline(values.baseline);
  const runs: { base: Figures[]; current: Figures[] } = { base: [], current: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      runs.base.push(runChild(dataDir, baseline.engine));
      runs.current.push(runChild(dataDir));
    }
  } finally {
    baseline.remove();
  }
  const b = best(runs.base);
  const c = best(runs.current);
  const change = (x: number, y: number) => `${y >= x ? '+' : ''}${(((y - x) / x) * 100).toFixed(1)} %`;
  console.log(
    `\nbench:templates — ${values.baseline} against the working tree, ` +
      `alternating, best of ${rounds} each, ${availableParallelism()} cores`,
  );
  console.log(`templates learned: ${b.templates} → ${c.templates}`);
  console.log(
    `pool: ${availableParallelism()} workers for the baseline, ${defaultPoolSize()} and this thread for the ` +
      "working tree (each one's default); (default): what a batch of that size takes now",
  );
  console.log('| figure | baseline logs/s | current logs/s | change |');
  console.log('|---|---:|---:|---:|');
  console.log(
    `| mining from cold, batches of 1,000 | ${n(b.mining)} | ${n(c.mining)} | ${change(b.mining, c.mining)} |`,
  );
  for (const size of Object.keys(c.matching)) {
    for (const where of ['inline', 'pool'] as const) {
      const x = b.matching[size]![where];
      const y = c.matching[size]![where];
      console.log(
        `| matching, batches of ${Number(size).toLocaleString('en')}, ${where}${mark(where, size)} ` +
          `| ${n(x)} | ${n(y)} | ${change(x, y)} |`,
      );
    }
  }
}
