import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { DEFAULT_DATA_DIR, logFormatRegex } from './accuracy.js';
import { TemplateEngine } from '../src/templates/engine.js';

/**
 * Template matching and mining throughput on a 1,000,000-line mix of the loghub-2k samples
 * (their messages, interleaved, repeated). Matching is measured once every template is learned,
 * for batch sizes 100, 1,000 and 10,000, inline and on the worker pool; mining from cold starts
 * from an empty template set. Figures include building each record's parameter strings.
 */
const LINES = 1_000_000;

function loadMix(dataDir: string): string[] {
  const specs = JSON.parse(readFileSync(path.join(dataDir, 'datasets.json'), 'utf8')) as Record<string, { log: string; log_format: string }>;
  const perDataset = Object.values(specs).map((spec) => {
    const regex = logFormatRegex(spec.log_format);
    return readFileSync(path.join(dataDir, spec.log), 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.length > 0)
      .map((line) => regex.exec(line.trim())?.groups?.Content ?? line);
  });
  const mix: string[] = [];
  for (let i = 0; mix.length < LINES; i++) {
    const source = perDataset[i % perDataset.length]!;
    mix.push(source[Math.floor(i / perDataset.length) % source.length]!);
  }
  return mix;
}

function batches(lines: string[], size: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < lines.length; i += size) out.push(lines.slice(i, i + size));
  return out;
}

async function rate(engine: TemplateEngine, work: string[][]): Promise<number> {
  const started = performance.now();
  let n = 0;
  for (const b of work) n += (await engine.assign('', b)).length;
  return n / ((performance.now() - started) / 1000);
}

const dataDir = process.argv[2] ?? DEFAULT_DATA_DIR;
if (!existsSync(path.join(dataDir, 'datasets.json'))) {
  console.error(`bench:templates: no datasets at ${dataDir} (expected ../shared/data/loghub-2k beside the checkout)`);
  process.exit(1);
}
const lines = loadMix(dataDir);
const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0) / lines.length;
const threads = availableParallelism();

const cold = new TemplateEngine({ miner: {}, parallelThreshold: Infinity, poolSize: 0, masking: [] });
const coldRate = await rate(cold, batches(lines, 1000));
const learned = cold.templateCount;

const inline = new TemplateEngine({ miner: {}, parallelThreshold: Infinity, poolSize: 0, masking: [] });
const pooled = new TemplateEngine({ miner: {}, parallelThreshold: 0, poolSize: threads, masking: [] });
for (const e of [inline, pooled]) await e.assign('', lines.slice(0, 200_000));

console.log(`\nbench:templates — ${LINES.toLocaleString('en')} messages (loghub-2k mix, ~${Math.round(bytes)} bytes each), ${learned} templates, ${threads} cores`);
console.log(`mining from cold (empty template set, batches of 1,000, inline): ${Math.round(coldRate).toLocaleString('en')} logs/s`);
console.log('| batch size | inline logs/s | pool logs/s |');
console.log('|---:|---:|---:|');
for (const size of [100, 1000, 10000]) {
  const work = batches(lines, size);
  await rate(inline, work.slice(0, Math.ceil(work.length / 10)));
  const inlineRate = await rate(inline, work);
  await rate(pooled, work.slice(0, Math.ceil(work.length / 10)));
  const poolRate = await rate(pooled, work);
  console.log(`| ${size.toLocaleString('en')} | ${Math.round(inlineRate).toLocaleString('en')} | ${Math.round(poolRate).toLocaleString('en')} |`);
}
await pooled.close();
