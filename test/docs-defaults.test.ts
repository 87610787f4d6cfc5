import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { builtinComponents } from '../src/components.js';
import { parseByteSize, parseDuration } from '../src/config/types.js';
import { parseConfig } from '../src/config/loader.js';
import type { ComponentKind } from '../src/pipeline/component-kind.js';
import { PROJECT_ROOT } from './support/cli.js';
import { headings, markdownLines, referenceFiles } from './support/markdown.js';

const registry = builtinComponents();

/** How to get a section's defaults: the least config its schema accepts (its required keys), parsed. */
type Defaults = () => unknown;

function component(kind: ComponentKind, type: string, base: Record<string, unknown> = {}): Defaults {
  return () => {
    const factory = registry.get(kind, type)!;
    const parsed = factory.configSchema.safeParse(structuredClone(base));
    if (!parsed.success) throw new Error(`${kind} ${type}: the least config is refused: ${parsed.error.message}`);
    return parsed.data;
  };
}

/** `service` is not a component: its defaults are those of the least whole config. */
const serviceDefaults: Defaults = () => {
  const config = parseConfig('receivers: { otlp: { protocols: { http: {} } } }\nexporters: { debug: {} }\nservice: { pipelines: { logs: { receivers: [otlp], exporters: [debug] } } }\n', registry);
  return { telemetry: config.telemetry, shutdown_timeout: config.shutdownTimeoutMs, workers: config.workers };
};

/**
 * The reference sections whose `| key | default | meaning |` tables document a config, keyed by
 * their heading when no other reference file has that heading, else by `file: heading`; with the
 * keys' prefix and where the defaults come from.
 */
const SECTIONS: Record<string, { defaults: Defaults; prefix?: string }> = {
  'Receiver `otlp`': { defaults: component('receiver', 'otlp', { protocols: { grpc: {}, http: {} } }) },
  'Receiver `json_ingest`': { defaults: component('receiver', 'json_ingest') },
  'Receiver `syslog`': { defaults: component('receiver', 'syslog', { tcp: {}, udp: {} }) },
  'docs/configuration.md: `tls`': { defaults: component('receiver', 'json_ingest', { tls: { cert_file: 'tls.crt', key_file: 'tls.key' } }), prefix: 'tls.' },
  'docs/configuration.md: HTTP server settings': { defaults: component('receiver', 'json_ingest') },
  'docs/configuration.md: `service`': { defaults: serviceDefaults },
  'Processor `memory_limiter`': { defaults: component('processor', 'memory_limiter', { limit_mib: 1000 }) },
  'LLM refinement (optional, off by default)': { defaults: component('processor', 'templates', { llm: { provider: 'openai', model: 'm' } }), prefix: 'llm.' },
  'Processor `batch`': { defaults: component('processor', 'batch') },
  'Processor `redaction`': { defaults: component('processor', 'redaction') },
  'Processor `parse`': { defaults: component('processor', 'parse') },
  'Processor `resourcedetection`': { defaults: component('processor', 'resourcedetection') },
  'Exporter `clickhouse`': { defaults: component('exporter', 'clickhouse') },
  'Sending queue, retries and dead letter': { defaults: component('exporter', 'clickhouse') },
  '`sending_queue.batch`': { defaults: component('exporter', 'clickhouse', { sending_queue: { batch: {} } }) },
  'Exporter `otlp` (and `otlphttp`)': { defaults: component('exporter', 'otlp', { endpoint: 'gateway:4317' }) },
  'Extension `bearertokenauth`': { defaults: component('extension', 'bearertokenauth', { token: 't' }) },
  'Extension `console`': { defaults: component('extension', 'console') },
};

interface DocumentedDefault {
  file: string;
  section: string;
  key: string;
  literal: string;
}

/** The SECTIONS key of a heading in a file, if it documents a config. */
function sectionOf(file: string, heading: string): string | undefined {
  return [`${file}: ${heading}`, heading].find((key) => SECTIONS[key]);
}

/** Rows whose key is one backticked dotted key and whose default is one backticked literal (what a schema default can be compared with). */
function documentedDefaults(file: string, markdown: string): DocumentedDefault[] {
  const out: DocumentedDefault[] = [];
  for (const line of markdownLines(markdown)) {
    const section = sectionOf(file, line.heading);
    if (line.code || !section) continue;
    const row = /^\| `([a-z0-9_.]+)` \| `([^`|]*)`(?: \([^)|]*\))? \|/.exec(line.text);
    // A placeholder such as `<endpoint>/v1/logs` describes the default rather than stating it.
    if (row && !row[2]!.includes('<')) out.push({ file, section, key: row[1]!, literal: row[2]! });
  }
  return out;
}

function valueAt(config: unknown, path: string): unknown {
  let v = config;
  for (const part of path.split('.')) v = v === undefined || v === null ? undefined : (v as Record<string, unknown>)[part];
  return v;
}

/** The documented literal read as the schema holds it: durations in ms, sizes in bytes. */
function readLiteral(literal: string, like: unknown): unknown {
  if (typeof like === 'boolean') return literal === 'true' ? true : literal === 'false' ? false : literal;
  if (typeof like === 'number') {
    if (/^-?\d+(\.\d+)?$/.test(literal)) return Number(literal);
    return parseDuration(literal) ?? parseByteSize(literal) ?? literal;
  }
  if (Array.isArray(like)) {
    const items = literal.replace(/^\[|\]$/g, '').trim();
    return items === '' ? [] : items.split(/,\s*/);
  }
  if (typeof like === 'object' && like !== null && literal === '{}') return {};
  // A string written as YAML would quote it (`"1.2"`, which unquoted would be a number).
  if (typeof like === 'string' && /^"[^"]*"$/.test(literal)) return literal.slice(1, -1);
  return literal;
}

const files = referenceFiles();
const texts = new Map(files.map((file) => [file, readFileSync(join(PROJECT_ROOT, file), 'utf8')]));

t.test('every section the test reads is in the reference, once', async (t) => {
  for (const key of Object.keys(SECTIONS)) {
    const [file, heading] = key.includes('.md: ') ? key.split(/: (.*)/s) : [undefined, key];
    const holders = files.filter((f) => (file === undefined || f === file) && headings(texts.get(f)!).includes(heading!));
    t.equal(holders.length, 1, `${key}: in ${holders.join(', ') || 'no reference file'}`);
    const rows = holders.flatMap((f) => documentedDefaults(f, texts.get(f)!)).filter((r) => r.section === key);
    t.ok(rows.length > 0, `${key}: documents defaults`);
  }
});

t.test('every config default the docs state is the schema default', async (t) => {
  const rows = files.flatMap((file) => documentedDefaults(file, texts.get(file)!));
  t.ok(rows.length >= 105, `${rows.length} documented defaults found`);
  const mismatches: string[] = [];
  for (const row of rows) {
    const { defaults, prefix = '' } = SECTIONS[row.section]!;
    let config: unknown;
    try {
      config = defaults();
    } catch (err) {
      mismatches.push(`${row.file}: ${row.section}: ${(err as Error).message}`);
      continue;
    }
    const actual = valueAt(config, `${prefix}${row.key}`);
    const documented = readLiteral(row.literal, actual);
    if (JSON.stringify(documented) !== JSON.stringify(actual)) mismatches.push(`${row.file}: ${row.section}: ${row.key} documented \`${row.literal}\`, schema default ${JSON.stringify(actual)}`);
  }
  t.same(mismatches, [], 'no documented default differs from the schema');
});
