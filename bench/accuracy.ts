import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { Template, TemplateMiner, type MinerOptions } from '../src/templates/miner.js';
import { maskedTokens, TokenScan } from '../src/templates/token-scanner.js';

/**
 * The LogPAI accuracy benchmark over the labelled loghub-2k samples: every line's message (the
 * header cut off with the dataset's log format) is mined online, in order, with one configuration
 * for all datasets; each line's predicted group is the template it ended up in.
 */

export const DEFAULT_DATA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data/loghub-2k');

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
  parsing: number;
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
    if (same.length === members.length && members.every((m) => truth[m] === truth[members[0]!])) correct += members.length;
  }
  return correct / truth.length;
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

export function evaluateDataset(dataDir: string, name: string, spec: DatasetSpec, options: Partial<MinerOptions> = {}): DatasetAccuracy {
  const messages = readMessages(path.join(dataDir, spec.log), spec.log_format);
  const rows = parse(readFileSync(path.join(dataDir, spec.truth)), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
  if (rows.length !== messages.length) throw new Error(`${name}: ${messages.length} log lines but ${rows.length} truth rows`);
  const truth = rows.map((r) => normaliseTemplate(r.EventTemplate!));
  const predicted = mineMessages(messages, options).map(normaliseTemplate);
  let parsed = 0;
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) parsed++;
  return {
    dataset: name,
    lines: truth.length,
    templates: new Set(predicted).size,
    trueTemplates: new Set(truth).size,
    grouping: groupingAccuracy(predicted, truth),
    parsing: parsed / truth.length,
  };
}

export function evaluateAll(dataDir = DEFAULT_DATA_DIR, options: Partial<MinerOptions> = {}): DatasetAccuracy[] {
  const specs = JSON.parse(readFileSync(path.join(dataDir, 'datasets.json'), 'utf8')) as Record<string, DatasetSpec>;
  return Object.entries(specs).map(([name, spec]) => evaluateDataset(dataDir, name, spec, options));
}

export function accuracyTable(results: DatasetAccuracy[]): string {
  const rows = results.map((r) => `| ${r.dataset} | ${r.lines} | ${r.trueTemplates} | ${r.templates} | ${r.grouping.toFixed(4)} | ${r.parsing.toFixed(4)} |`);
  const mean = (f: (r: DatasetAccuracy) => number) => (results.reduce((n, r) => n + f(r), 0) / results.length).toFixed(4);
  return [
    '| dataset | lines | true templates | mined templates | grouping accuracy | parsing accuracy |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    `| **average** | | | | **${mean((r) => r.grouping)}** | **${mean((r) => r.parsing)}** |`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dataDir = process.argv[2] ?? DEFAULT_DATA_DIR;
  if (!existsSync(path.join(dataDir, 'datasets.json'))) {
    console.error(`accuracy: no labelled datasets at ${dataDir} (expected ../shared/data/loghub-2k beside the checkout)`);
    process.exit(1);
  }
  console.log(`\naccuracy — online mining, default configuration, ${dataDir}`);
  console.log(accuracyTable(evaluateAll(dataDir)));
}
