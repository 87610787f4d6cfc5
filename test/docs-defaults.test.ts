import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { builtinComponents } from '../src/components.js';
import { parseByteSize, parseDuration } from '../src/config/types.js';
import type { ComponentKind } from '../src/pipeline/component-kind.js';
import { PROJECT_ROOT } from './support/cli.js';

/**
 * The reference sections whose `| key | default | meaning |` tables document a component's
 * config, with the keys' prefix and the least config the schema accepts (its required keys).
 */
const SECTIONS: Record<string, { kind: ComponentKind; type: string; prefix?: string; base?: Record<string, unknown> }> = {
  'Receiver `otlp`': { kind: 'receiver', type: 'otlp', base: { protocols: { grpc: {}, http: {} } } },
  'Receiver `json_ingest`': { kind: 'receiver', type: 'json_ingest' },
  'Receiver `syslog`': { kind: 'receiver', type: 'syslog', base: { tcp: {}, udp: {} } },
  'Processor `memory_limiter`': { kind: 'processor', type: 'memory_limiter', base: { limit_mib: 1000 } },
  'LLM refinement (optional, off by default)': { kind: 'processor', type: 'templates', prefix: 'llm.', base: { llm: { provider: 'openai', model: 'm' } } },
  'Processor `templates`': { kind: 'processor', type: 'templates' },
  'Processor `batch`': { kind: 'processor', type: 'batch' },
  'Processor `redaction`': { kind: 'processor', type: 'redaction' },
  'Processor `parse`': { kind: 'processor', type: 'parse' },
  'Processor `resourcedetection`': { kind: 'processor', type: 'resourcedetection' },
  'Exporter `clickhouse`': { kind: 'exporter', type: 'clickhouse' },
  'Sending queue, retries and dead letter': { kind: 'exporter', type: 'clickhouse' },
  'Exporter `otlp` (and `otlphttp`)': { kind: 'exporter', type: 'otlp', base: { endpoint: 'gateway:4317' } },
};

interface DocumentedDefault {
  section: string;
  key: string;
  literal: string;
}

/** Rows whose key is one backticked dotted key and whose default is one backticked literal (what a schema default can be compared with). */
function documentedDefaults(markdown: string): DocumentedDefault[] {
  const out: DocumentedDefault[] = [];
  let section = '';
  for (const line of markdown.split('\n')) {
    const heading = /^#{2,4} (.*)$/.exec(line);
    if (heading) {
      section = heading[1]!.trim();
      continue;
    }
    const row = /^\| `([a-z0-9_.]+)` \| `([^`|]*)`(?: \([^)|]*\))? \|/.exec(line);
    // A placeholder such as `<endpoint>/v1/logs` describes the default rather than stating it.
    if (row && SECTIONS[section] && !row[2]!.includes('<')) out.push({ section, key: row[1]!, literal: row[2]! });
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
  return literal;
}

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const registry = builtinComponents();

t.test('every config default the docs state is the schema default', async (t) => {
  const rows = documentedDefaults(readme);
  t.ok(rows.length >= 80, `${rows.length} documented defaults found`);
  const mismatches: string[] = [];
  for (const row of rows) {
    const { kind, type, prefix = '', base = {} } = SECTIONS[row.section]!;
    const factory = registry.get(kind, type)!;
    const parsed = factory.configSchema.safeParse(structuredClone(base));
    if (!parsed.success) {
      mismatches.push(`${kind} ${type}: the least config is refused: ${parsed.error.message}`);
      continue;
    }
    const actual = valueAt(parsed.data, `${prefix}${row.key}`);
    const documented = readLiteral(row.literal, actual);
    if (JSON.stringify(documented) !== JSON.stringify(actual)) mismatches.push(`${row.section}: ${row.key} documented \`${row.literal}\`, schema default ${JSON.stringify(actual)}`);
  }
  t.same(mismatches, [], 'no documented default differs from the schema');
});
