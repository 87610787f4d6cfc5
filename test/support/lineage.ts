import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Test } from 'tap';
import { DEFAULT_DATA_DIR, logFormatRegex, normaliseTemplate } from '../../bench/accuracy.js';
import { queryRows, type RunningDaemon } from './daemon.js';

/*
 * Templates as users meet them: rows in otel_logs read back from ClickHouse, each TemplateId
 * resolved to its current template by the shipped SQL (the CurrentTemplateId column).
 */

// Datasets whose events generalise as they stream (ids at first use split them): the lineage matters.
export const DATASETS = ['Zookeeper', 'Linux'];
export const haveData = existsSync(path.join(DEFAULT_DATA_DIR, 'datasets.json'));

export interface Dataset {
  messages: string[];
  truth: string[];
}

export function readDataset(name: string): Dataset {
  const specs = JSON.parse(readFileSync(path.join(DEFAULT_DATA_DIR, 'datasets.json'), 'utf8')) as Record<string, { log: string; truth: string; log_format: string }>;
  const spec = specs[name]!;
  const format = logFormatRegex(spec.log_format);
  const lines = readFileSync(path.join(DEFAULT_DATA_DIR, spec.log), 'utf8').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const rows = parse(readFileSync(path.join(DEFAULT_DATA_DIR, spec.truth)), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
  return { messages: lines.map((l) => format.exec(l.trim())?.groups?.Content ?? l), truth: rows.map((r) => normaliseTemplate(r.EventTemplate!)) };
}

export function otlpJson(service: string, messages: string[], first: number): string {
  const kv = (key: string, value: object) => ({ key, value });
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [kv('service.name', { stringValue: service })] },
        scopeLogs: [
          {
            scope: {},
            logRecords: messages.map((m, i) => ({
              timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(first + i)),
              body: { stringValue: m },
              attributes: [kv('line', { intValue: String(first + i) })],
            })),
          },
        ],
      },
    ],
  });
}

export async function send(daemon: RunningDaemon, service: string, messages: string[], perRequest: number, first = 0): Promise<void> {
  for (let i = 0; i < messages.length; i += perRequest) {
    const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: otlpJson(service, messages.slice(i, i + perRequest), first + i),
    });
    if (res.status !== 200) throw new Error(`${service}: request answered ${res.status}: ${await res.text()}`);
  }
}

export function yaml(endpoint: string, templates = 'per_service: true'): string {
  return `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0, max_request_body_size: 67108864 } } }
processors:
  templates: { ${templates} }
  batch: { send_batch_size: 10000, timeout: 100ms }
exporters:
  clickhouse: { endpoint: "${endpoint}" }
service:
  pipelines: { logs: { receivers: [otlp], processors: [templates, batch], exporters: [clickhouse] } }
  telemetry: { metrics: { address: 127.0.0.1:0 } }
`;
}

/**
 * Whether the daemons' exporters finished exporting this many records: the logs insert and the
 * templates insert that carries their lineage both done (the rows alone can come first).
 */
export async function exported(daemons: RunningDaemon[], records: number): Promise<boolean> {
  let n = 0;
  for (const d of daemons) {
    const stats = (await (await fetch(`http://127.0.0.1:${d.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { exported?: number } } };
    n += stats.exporters.clickhouse.exported ?? 0;
  }
  return n >= records;
}

export interface StoredRow {
  line: number;
  raw: string;
  current: string;
  template: string;
}

/** The rows of a service as a user's SQL sees them, after the dictionaries reloaded. */
export async function storedRows(client: ClickHouseClient, service: string): Promise<StoredRow[]> {
  await client.command({ query: 'SYSTEM RELOAD DICTIONARIES' });
  return queryRows<StoredRow>(
    client,
    `SELECT toUInt32(LogAttributes['line']) AS line, toString(TemplateId) AS raw, toString(CurrentTemplateId) AS current, Template AS template
     FROM otel.otel_logs WHERE ServiceName = '${service}' ORDER BY line`,
  );
}

/** Every current id is a root of the lineage (no edge leaves it) and has a text. */
export async function checkForest(t: Test, client: ClickHouseClient, what: string): Promise<void> {
  const [r] = await queryRows<{ rows: string; resolved: string; notRoot: string; noText: string }>(
    client,
    `SELECT toString(count()) AS rows, toString(countIf(CurrentTemplateId != 0)) AS resolved,
            toString(countIf(CurrentTemplateId IN (SELECT Id FROM otel.log_templates_lineage))) AS notRoot,
            toString(countIf(CurrentTemplateId != 0 AND Template = '')) AS noText
     FROM otel.otel_logs`,
  );
  t.equal(r!.notRoot, '0', `${what}: every row's current template is current (a root of the lineage)`);
  t.equal(r!.noText, '0', `${what}: and has its text`);
  t.equal(r!.resolved, r!.rows, `${what}: every row has a current template`);
  const [sums] = await queryRows<{ total: string; byTemplate: string }>(
    client,
    'SELECT toString((SELECT count() FROM otel.otel_logs)) AS total, toString(sum(n)) AS byTemplate FROM (SELECT CurrentTemplateId, count() AS n FROM otel.otel_logs GROUP BY CurrentTemplateId)',
  );
  t.equal(sums!.byTemplate, sums!.total, `${what}: counts by current template add up to the rows`);
}
