import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { TemplateEngine } from '../src/templates/engine.js';
import { LlmRefiner, type RefinerOptions } from '../src/templates/llm/refiner.js';
import { DEFAULT_ENDPOINTS, type ProviderKind } from '../src/templates/llm/providers.js';
import { Template, TemplateMiner, type MinerOptions } from '../src/templates/miner.js';
import { maskedTokens, TokenScan } from '../src/templates/token-scanner.js';
import { runThroughDaemon } from './accuracy-stored.js';

/**
 * The LogPAI accuracy benchmark over the labelled loghub-2k samples: every line's message (the
 * header cut off with the dataset's log format) is mined online, in order, with one configuration
 * for all datasets; each line's predicted group is the template it ended up in.
 */

export const DEFAULT_DATA_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/data/loghub-2k',
);

interface DatasetSpec {
  log: string;
  truth: string;
  log_format: string;
}

export interface DatasetAccuracy {
  dataset: string;
  lines: number;
  templates: number;
  trueTemplates: number;
  grouping: number;
  /** F1 over groups. */
  groupingF1: number;
  parsing: number;
  /** Parsing accuracy with the predicted templates normalised as Loghub-2.0's evaluation does. */
  parsingNormalised: number;
}

/** The benchmark's log format as an anchored regex: `<Field>` groups, spaces match any run. */
export function logFormatRegex(format: string): RegExp {
  const fields: string[] = [];
  let source = '';
  for (const part of format.split(/(<[^<>]+>)/)) {
    if (/^<[^<>]+>$/.test(part)) {
      fields.push(part.slice(1, -1));
      source += `(?<${part.slice(1, -1)}>.*?)`;
    } else {
      source += part.replace(/ +/g, '\\s+');
    }
  }
  return new RegExp(`^${source}$`);
}

/** Whitespace collapsed and runs of adjacent `<*>` merged, as the evaluators compare templates. */
export function normaliseTemplate(text: string): string {
  let t = text.trim().replace(/\s+/g, ' ');
  let previous = '';
  while (previous !== t) {
    previous = t;
    t = t.replace(/<\*>\s*<\*>/g, '<*>');
  }
  return t;
}

/*
 * Loghub-2.0's `correct_single_template` (full_dataset/post_process.py), the normalisation LILAC,
 * LUNAR and PIPLUP apply to a predicted template before comparing it: digit-only tokens and tokens
 * holding a variable become `<*>`, and variables joined by `.` `:` `#` `/` `@` or nothing merge.
 * Tokens here are split at spaces and the delimiters below, which are kept.
 */
const LOGHUB2_DELIMITERS = /([\s,!;:=|"'\[\](){}.\-+@#$%&])/;
const DIGITS = /^\d+$/;
const WORD_WITH_VARIABLE = /^[^\s/]*<\*>[^\s/]*$/;
const JOINED_VARIABLES: Array<[string, string]> = [
  [' #<*># ', ' <*> '],
  [' #<*> ', ' <*> '],
  ['<*>:<*>', '<*>'],
  ['<*>#<*>', '<*>'],
  ['<*>/<*>', '<*>'],
  ['<*>@<*>', '<*>'],
  ['<*>.<*>', '<*>'],
  [' "<*>" ', ' <*> '],
  [" '<*>' ", ' <*> '],
  ['<*><*>', '<*>'],
];

export function loghub2Normalise(template: string): string {
  let t = template
    .trim()
    .replace(/\s+/g, ' ')
    .split(LOGHUB2_DELIMITERS)
    .map((token) => (DIGITS.test(token) || (WORD_WITH_VARIABLE.test(token) && token !== '<*>/<*>') ? '<*>' : token))
    .join('');
  t = replaceAll(t, '<*>.<*>', '<*>');
  t = replaceAll(t, '<*><*>', '<*>');
  for (const [from, to] of JOINED_VARIABLES) t = replaceAll(t, from, to);
  return t;
}

function replaceAll(text: string, from: string, to: string): string {
  let t = text;
  while (t.includes(from)) t = t.replaceAll(from, to);
  return t;
}

function readMessages(file: string, format: string): string[] {
  const regex = logFormatRegex(format);
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => regex.exec(line.trim())?.groups?.Content ?? line);
}

/** Grouping accuracy: a line counts when its predicted group and its true group are the same set. */
export function groupingAccuracy(predicted: string[], truth: string[]): number {
  const predictedGroups = new Map<string, number[]>();
  const trueGroups = new Map<string, number[]>();
  predicted.forEach((p, i) => (predictedGroups.get(p) ?? predictedGroups.set(p, []).get(p)!).push(i));
  truth.forEach((t, i) => (trueGroups.get(t) ?? trueGroups.set(t, []).get(t)!).push(i));
  let correct = 0;
  for (const members of predictedGroups.values()) {
    const same = trueGroups.get(truth[members[0]!]!)!;
    if (same.length === members.length && members.every((m) => truth[m] === truth[members[0]!]))
      correct += members.length;
  }
  return correct / truth.length;
}

/**
 * F1 over groups (FGA, as in Loghub-2.0): a predicted group is right when it holds exactly the
 * messages of one true group; precision over the predicted groups, recall over the true ones.
 */
export function groupingF1(predicted: string[], truth: string[]): number {
  const predictedGroups = new Map<string, number[]>();
  const trueSize = new Map<string, number>();
  predicted.forEach((p, i) => (predictedGroups.get(p) ?? predictedGroups.set(p, []).get(p)!).push(i));
  truth.forEach((t) => trueSize.set(t, (trueSize.get(t) ?? 0) + 1));
  let right = 0;
  for (const members of predictedGroups.values()) {
    const t = truth[members[0]!]!;
    if (trueSize.get(t) === members.length && members.every((m) => truth[m] === t)) right++;
  }
  const precision = right / predictedGroups.size;
  const recall = right / trueSize.size;
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

/** Mines the messages in order and returns each one's final template text. */
export function mineMessages(messages: string[], options: Partial<MinerOptions> = {}): string[] {
  const miner = new TemplateMiner(options);
  const scan = new TokenScan();
  const folded = new Map<Template, Template>();
  const assigned: Template[] = messages.map((message) => {
    const result = miner.learn(maskedTokens(message, scan));
    for (const t of result.removed) if (!t.evicted) folded.set(t, result.template);
    return result.template;
  });
  const final = (t: Template): Template => {
    let at = t;
    for (let next = folded.get(at); next; next = folded.get(at)) at = next;
    return at;
  };
  return assigned.map((t) => final(t).text);
}

interface Dataset {
  name: string;
  messages: string[];
  truth: string[];
}

function readDataset(dataDir: string, name: string, spec: DatasetSpec): Dataset {
  const messages = readMessages(path.join(dataDir, spec.log), spec.log_format);
  const rows = parse(readFileSync(path.join(dataDir, spec.truth)), { columns: true, skip_empty_lines: true }) as Array<
    Record<string, string>
  >;
  if (rows.length !== messages.length)
    throw new Error(`${name}: ${messages.length} log lines but ${rows.length} truth rows`);
  return { name, messages, truth: rows.map((r) => normaliseTemplate(r.EventTemplate!)) };
}

export function evaluateDataset(
  dataDir: string,
  name: string,
  spec: DatasetSpec,
  options: Partial<MinerOptions> = {},
): DatasetAccuracy {
  const { messages, truth } = readDataset(dataDir, name, spec);
  return score(name, mineMessages(messages, options), truth);
}

function score(name: string, templates: string[], truth: string[]): DatasetAccuracy {
  const predicted = templates.map(normaliseTemplate);
  let parsed = 0;
  let parsedNormalised = 0;
  const normalised = new Map<string, string>();
  for (let i = 0; i < truth.length; i++) {
    const p = predicted[i]!;
    if (p === truth[i]) parsed++;
    let n = normalised.get(p);
    if (n === undefined) normalised.set(p, (n = loghub2Normalise(p)));
    if (n === truth[i]) parsedNormalised++;
  }
  return {
    dataset: name,
    lines: truth.length,
    templates: new Set(predicted).size,
    trueTemplates: new Set(truth).size,
    grouping: groupingAccuracy(predicted, truth),
    groupingF1: groupingF1(predicted, truth),
    parsing: parsed / truth.length,
    parsingNormalised: parsedNormalised / truth.length,
  };
}

/** Scores groups given apart from template texts (a stored row's group is its CurrentTemplateId). */
function scoreGroups(name: string, groups: string[], templates: string[], truth: string[]): DatasetAccuracy {
  const byText = score(name, templates, truth);
  return {
    ...byText,
    templates: new Set(groups).size,
    grouping: groupingAccuracy(groups, truth),
    groupingF1: groupingF1(groups, truth),
  };
}

function datasetSpecs(dataDir: string, only?: string[]): Array<[string, DatasetSpec]> {
  const specs = Object.entries(
    JSON.parse(readFileSync(path.join(dataDir, 'datasets.json'), 'utf8')) as Record<string, DatasetSpec>,
  );
  return only ? specs.filter(([name]) => only.includes(name)) : specs;
}

export function evaluateAll(
  dataDir = DEFAULT_DATA_DIR,
  options: Partial<MinerOptions> = {},
  only?: string[],
): DatasetAccuracy[] {
  return datasetSpecs(dataDir, only).map(([name, spec]) => evaluateDataset(dataDir, name, spec, options));
}

export interface LlmRun {
  provider: ProviderKind;
  endpoint: string;
  model: string;
  apiKey: string;
}

export interface LlmCounts {
  requests: number;
  failures: number;
  accepted: number;
  rejected: number;
  tokens: number;
}

/**
 * The same datasets with LLM refinement on: the messages go through the templates engine in
 * batches of 100 as a daemon would see them, the LLM reviews what the miner offers, and once it
 * is done every message is matched again, so a line's group is the template it ends up in.
 */
export async function evaluateAllWithLlm(
  llm: LlmRun,
  dataDir = DEFAULT_DATA_DIR,
  only?: string[],
): Promise<{ results: DatasetAccuracy[]; counts: LlmCounts }> {
  const counts: LlmCounts = { requests: 0, failures: 0, accepted: 0, rejected: 0, tokens: 0 };
  const results: DatasetAccuracy[] = [];
  // The refiner's batch timer does not hold the process open (a daemon has its servers for that).
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    for (const [name, spec] of datasetSpecs(dataDir, only))
      results.push(await evaluateDatasetWithLlm(llm, counts, name, readDataset(dataDir, name, spec)));
  } finally {
    clearInterval(keepAlive);
  }
  return { results, counts };
}

async function evaluateDatasetWithLlm(
  llm: LlmRun,
  counts: LlmCounts,
  name: string,
  { messages, truth }: Dataset,
): Promise<DatasetAccuracy> {
  let engine!: TemplateEngine;
  const options: RefinerOptions = {
    provider: {
      provider: llm.provider,
      endpoint: llm.endpoint,
      model: llm.model,
      apiKey: llm.apiKey,
      timeoutMs: 120_000,
    },
    batchSize: 10,
    batchTimeoutMs: 2000,
    maxConcurrentBatches: 5,
    maxRetries: 3,
    initialBackoffMs: 1000,
    maxQueue: 10_000,
    dailyRequestBudget: 0,
    maxWildcardRatio: 0.6,
    masking: [],
  };
  const refiner = new LlmRefiner(
    options,
    {
      adopt: (set, tokens) => engine.adopt(set, tokens, 'llm'),
      publish: () => engine.publish(),
      request: (outcome, p, c) => {
        counts.requests++;
        counts.tokens += p + c;
        if (outcome === 'failure') counts.failures++;
      },
      proposal: (result) =>
        result === 'accepted' ? counts.accepted++ : result === 'rejected' ? counts.rejected++ : undefined,
    },
    pino({ level: process.env.OTELHOUSE_LOG_LEVEL ?? 'warn' }),
  );
  engine = new TemplateEngine({
    miner: {},
    parallelThreshold: 1_000_000,
    poolSize: 0,
    masking: [],
    candidates: refiner,
  });
  for (let i = 0; i < messages.length; i += 100) await engine.assign('', messages.slice(i, i + 100));
  await refiner.idle();
  await refiner.close();
  const final = await engine.assign('', messages);
  await engine.close();
  return score(
    name,
    final.map((a) => a.template?.text ?? ''),
    truth,
  );
}

/**
 * The dev half split in two for tuning without fitting: rules are tuned on one half and checked on
 * the other, then the halves swap; both averages are printed.
 */
export const HALVES: Record<string, string[]> = {
  A: ['HDFS', 'Hadoop', 'Spark', 'Zookeeper'],
  B: ['BGL', 'Linux', 'Apache', 'Proxifier'],
};

export function accuracyTable(results: DatasetAccuracy[]): string {
  const f4 = (x: number) => x.toFixed(4);
  const rows = results.map(
    (r) =>
      `| ${r.dataset} | ${r.lines} | ${r.trueTemplates} | ${r.templates} | ${f4(r.grouping)} ` +
      `| ${f4(r.groupingF1)} | ${f4(r.parsing)} | ${f4(r.parsingNormalised)} |`,
  );
  const mean = (of: DatasetAccuracy[], f: (r: DatasetAccuracy) => number) =>
    f4(of.reduce((n, r) => n + f(r), 0) / of.length);
  const average = (label: string, of: DatasetAccuracy[]) =>
    `| **${label}** | | | | **${mean(of, (r) => r.grouping)}** | **${mean(of, (r) => r.groupingF1)}** ` +
    `| **${mean(of, (r) => r.parsing)}** | **${mean(of, (r) => r.parsingNormalised)}** |`;
  const halves = Object.entries(HALVES)
    .map(([name, members]) => [name, results.filter((r) => members.includes(r.dataset))] as const)
    .filter(([, of]) => of.length > 0 && of.length < results.length)
    .map(([name, of]) => average(`half ${name} (${of.map((r) => r.dataset).join(', ')})`, of));
  return [
    '| dataset | lines | true templates | mined templates | GA | FGA | PA | PA normalised |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    ...halves,
    average('average', results),
  ].join('\n');
}

/** The datasets through a running daemon, read back as stored, beside the offline figures. */
export async function evaluateStored(dataDir: string, offline: DatasetAccuracy[], only?: string[]): Promise<string> {
  const datasets = datasetSpecs(dataDir, only).map(([name, spec]) => readDataset(dataDir, name, spec));
  const stored = await runThroughDaemon(datasets.map((d) => ({ name: d.name, messages: d.messages })));
  const lines = [
    '| dataset | per request | GA stored | GA offline | FGA stored | FGA offline ' +
      '| PA stored | PA offline | PA norm. stored | PA norm. offline | templates stored / true |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const d of datasets) {
    const off = offline.find((o) => o.dataset === d.name)!;
    for (const run of stored.get(d.name)!) {
      const r = scoreGroups(d.name, run.groups, run.templates, d.truth);
      lines.push(
        `| ${d.name} | ${run.perRequest} | ${r.grouping.toFixed(4)} | ${off.grouping.toFixed(4)} ` +
          `| ${r.groupingF1.toFixed(4)} | ${off.groupingF1.toFixed(4)} | ${r.parsing.toFixed(4)} ` +
          `| ${off.parsing.toFixed(4)} | ${r.parsingNormalised.toFixed(4)} ` +
          `| ${off.parsingNormalised.toFixed(4)} | ${r.templates} / ${r.trueTemplates} |`,
      );
    }
  }
  return lines.join('\n');
}

const USAGE =
  `usage: npm run accuracy -- [--data DIR] [--only NAME,NAME] [--offline-only] ` +
  `[--llm URL [--llm-provider openai|ollama] [--llm-model NAME]]
  --offline-only    only the miner's own view, not the rows a daemon stores (requests of 2,000 and of 1)
  --llm URL         also measure with LLM refinement: an OpenAI-compatible base URL (…/v1) or an Ollama server
  --llm-provider    openai (default) or ollama
  --llm-model       model name (default gpt-4o-mini for openai, llama3.1 for ollama)
  The API key, if the endpoint needs one, is read from OTELHOUSE_LLM_API_KEY.`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        data: { type: 'string' },
        only: { type: 'string' },
        'offline-only': { type: 'boolean' },
        llm: { type: 'string' },
        'llm-provider': { type: 'string' },
        'llm-model': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (err) {
    console.error(`accuracy: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const dataDir = values.data ?? positionals[0] ?? DEFAULT_DATA_DIR;
  if (!existsSync(path.join(dataDir, 'datasets.json'))) {
    console.error(
      `accuracy: no labelled datasets at ${dataDir} (expected ../shared/data/loghub-2k beside the checkout)`,
    );
    return 1;
  }
  const only = values.only?.split(',');
  console.log(`\naccuracy — online mining, default configuration, ${dataDir}`);
  const offline = evaluateAll(dataDir, {}, only);
  console.log(accuracyTable(offline));
  if (values['offline-only']) {
    console.log('\nas stored: skipped (--offline-only)');
  } else {
    console.log(
      '\naccuracy as stored — through a daemon (OTLP/JSON, templates per ' +
        'service), rows read back from ClickHouse, grouped by CurrentTemplateId',
    );
    console.log(await evaluateStored(dataDir, offline, only));
  }
  if (!values.llm) {
    console.log(
      '\nwith LLM refinement: skipped (no --llm URL given; e.g. --llm http://localhost:11434 --llm-provider ollama)',
    );
    return 0;
  }
  const provider = (values['llm-provider'] ?? 'openai') as ProviderKind;
  if (!Object.hasOwn(DEFAULT_ENDPOINTS, provider)) {
    console.error(`accuracy: --llm-provider must be openai or ollama, not ${provider}`);
    return 2;
  }
  const model = values['llm-model'] ?? (provider === 'openai' ? 'gpt-4o-mini' : 'llama3.1');
  const { results, counts } = await evaluateAllWithLlm(
    { provider, endpoint: values.llm, model, apiKey: process.env.OTELHOUSE_LLM_API_KEY ?? '' },
    dataDir,
    only,
  );
  console.log(`\naccuracy — with LLM refinement (${provider}, ${model} at ${values.llm})`);
  console.log(accuracyTable(results));
  console.log(
    `\nLLM: ${counts.requests} requests (${counts.failures} failed), ${counts.accepted} ` +
      `templates accepted, ${counts.rejected} rejected, ${counts.tokens} tokens`,
  );
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main();
