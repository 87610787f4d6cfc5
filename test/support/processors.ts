import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { pino } from 'pino';
import type { Test } from 'tap';
import { loadConfig } from '../../src/daemon.js';
import type { Processor } from '../../src/pipeline/component.js';
import type { LogsConsumer } from '../../src/pipeline/consumer.js';
import { ConfigError } from '../../src/config/errors.js';
import { newAttributes, newLogRecord, type AnyValue, type LogBatch, type LogRecord } from '../../src/pipeline/model.js';
import { Telemetry } from '../../src/telemetry/metrics.js';

/** A whole config around one processor, so it goes through the real loader (env expansion, validation). */
export function configAround(id: string, processorYaml: string): string {
  const body = processorYaml.trim() === '' ? ' {}' : `\n${processorYaml.replace(/^/gm, '      ')}`;
  return `
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:0" } } }
processors:
  ${id}:${body}
exporters:
  debug: {}
service:
  pipelines:
    logs: { receivers: [otlp], processors: [${id}], exporters: [debug] }
`;
}

/** The loader's issues for a processor config ("path: message"), or [] when it is valid. */
export function configIssues(id: string, processorYaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig({ text: configAround(id, processorYaml) }, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

export interface Harness {
  processor: Processor;
  telemetry: Telemetry;
  /** Batches that reached the next stage. */
  out: LogBatch[];
  run(batch: LogBatch): Promise<LogBatch | undefined>;
  metrics(): Promise<string>;
  stats(): Record<string, number>;
}

/**
 * Builds and starts one processor from YAML through the real config loader, in front of a
 * capturing consumer (or `next`, when given: then `out` stays empty).
 */
export async function processorHarness(id: string, processorYaml: string, env: NodeJS.ProcessEnv = {}, next?: LogsConsumer): Promise<Harness> {
  const config = loadConfig({ text: configAround(id, processorYaml) }, env);
  const resolved = config.processors.get(id)!;
  if (resolved.factory.kind !== 'processor') throw new Error(`${id} is not a processor`);
  const telemetry = new Telemetry();
  const out: LogBatch[] = [];
  const processor = resolved.factory.create(
    resolved.config,
    { id, kind: 'processor', logger: pino({ level: 'silent' }), telemetry: telemetry.forComponent('processor', id) },
    next ?? { consume: async (b) => void out.push(b) },
  );
  await processor.start();
  return {
    processor,
    telemetry,
    out,
    async run(batch) {
      const before = out.length;
      await processor.consume(batch);
      return out.length > before ? out[out.length - 1] : undefined;
    },
    metrics: () => telemetry.registry.metrics(),
    stats: () => (telemetry.stats().processors![id] ?? {}) as Record<string, number>,
  };
}

export interface RecordSpec {
  body?: AnyValue;
  attributes?: Record<string, AnyValue>;
  severityNumber?: number;
  severityText?: string;
  timeUnixNano?: bigint;
}

export interface ResourceSpec {
  resource?: Record<string, AnyValue>;
  scope?: { name: string; version?: string };
  records: RecordSpec[];
}

function attrs(o: Record<string, AnyValue> | undefined) {
  const a = newAttributes();
  for (const [k, v] of Object.entries(o ?? {})) a[k] = v;
  return a;
}

export function record(spec: RecordSpec): LogRecord {
  const r = newLogRecord();
  r.body = spec.body ?? null;
  r.attributes = attrs(spec.attributes);
  r.severityNumber = spec.severityNumber ?? 0;
  r.severityText = spec.severityText ?? '';
  r.timeUnixNano = spec.timeUnixNano ?? 0n;
  return r;
}

/** A batch of resources, each with one scope of records. */
export function batchOf(...resources: ResourceSpec[]): LogBatch {
  return {
    resourceLogs: resources.map((r) => ({
      resource: { attributes: attrs(r.resource), droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeLogs: [
        {
          scope: { name: r.scope?.name ?? 'scope', version: r.scope?.version ?? '', attributes: newAttributes(), droppedAttributesCount: 0 },
          schemaUrl: '',
          logRecords: r.records.map(record),
        },
      ],
    })),
  };
}

/** A plain view of a record for comparisons: body, attributes as a plain object, severity, time. */
export function view(r: LogRecord): { body: AnyValue; attributes: Record<string, AnyValue>; severityNumber: number; severityText: string; timeUnixNano: bigint } {
  return { body: plain(r.body), attributes: plain(r.attributes) as Record<string, AnyValue>, severityNumber: r.severityNumber, severityText: r.severityText, timeUnixNano: r.timeUnixNano };
}

function plain(v: AnyValue): AnyValue {
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, AnyValue> = {};
    for (const k of Object.keys(v)) out[k] = plain(v[k]!);
    return out as AnyValue;
  }
  return v;
}

/** Every record of a batch, in order. */
export function recordsOf(batch: LogBatch | undefined): LogRecord[] {
  return batch ? batch.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)) : [];
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface TableCase {
  name: string;
  config: string;
  input: ResourceSpec[];
  /** Expected records (attributes compared whole; other fields only when given). */
  expect: Array<Partial<ReturnType<typeof view>>>;
  /** Expected /stats counts of the processor. */
  stats?: Record<string, number>;
}

/** A fresh processor per case, so no case sees the caches or counts another left. */
export async function runTable(t: Test, type: string, cases: TableCase[]): Promise<void> {
  for (const c of cases) {
    await t.test(`${type}: ${c.name}`, async (t) => {
      const h = await processorHarness(type, c.config);
      const out = await h.run(batchOf(...c.input));
      const got = recordsOf(out).map(view);
      t.equal(got.length, c.expect.length, 'record count');
      c.expect.forEach((want, i) => {
        const g = got[i];
        if (!g) return;
        for (const key of Object.keys(want) as Array<keyof typeof want>) t.same(g[key], want[key], `record ${i} ${key}`);
      });
      if (c.stats) for (const [k, n] of Object.entries(c.stats)) t.equal(h.stats()[k] ?? 0, n, `stats ${k}`);
    });
  }
}

setFlagsFromString('--allow-natives-syntax');
const fastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

/**
 * Whether V8 keeps an object in fast (hidden-class) mode. `delete` turns an attribute map into a
 * dictionary that every later stage reads several times slower (docs/decisions.md).
 */
export function hasFastProperties(o: object): boolean {
  return fastProperties(o);
}
