import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { ClickHouseClient } from '@clickhouse/client';
import t, { type Test } from 'tap';
import { DEFAULT_DATA_DIR, groupingAccuracy, logFormatRegex, mineMessages, normaliseTemplate } from '../bench/accuracy.js';
import { ClickHouseHttpFront } from './support/clickhouse-http-front.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor, type RunningDaemon } from './support/daemon.js';
import { createClient } from '@clickhouse/client';

/*
 * Templates as users meet them: rows in otel_logs read back from ClickHouse, each TemplateId
 * resolved to its current template by the shipped SQL (the CurrentTemplateId column). A template
 * that generalised mid-stream must not split its event into several groups.
 */

const DATASETS = ['HDFS', 'Linux'];
const haveData = existsSync(path.join(DEFAULT_DATA_DIR, 'datasets.json'));

interface Dataset {
  messages: string[];
  truth: string[];
}

function readDataset(name: string): Dataset {
  const specs = JSON.parse(readFileSync(path.join(DEFAULT_DATA_DIR, 'datasets.json'), 'utf8')) as Record<string, { log: string; truth: string; log_format: string }>;
  const spec = specs[name]!;
  const format = logFormatRegex(spec.log_format);
  const lines = readFileSync(path.join(DEFAULT_DATA_DIR, spec.log), 'utf8').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const rows = parse(readFileSync(path.join(DEFAULT_DATA_DIR, spec.truth)), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
  return { messages: lines.map((l) => format.exec(l.trim())?.groups?.Content ?? l), truth: rows.map((r) => normaliseTemplate(r.EventTemplate!)) };
}

function otlpJson(service: string, messages: string[], first: number): string {
  const kv = (key: string, value: object) => ({ key, value });
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [kv('service.name', { stringValue: service })] },
        scopeLogs: [{ scope: {}, logRecords: messages.map((m, i) => ({ timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(first + i)), body: { stringValue: m }, attributes: [kv('line', { intValue: String(first + i) })] })) }],
      },
    ],
  });
}

async function send(daemon: RunningDaemon, service: string, messages: string[], perRequest: number, first = 0): Promise<void> {
  for (let i = 0; i < messages.length; i += perRequest) {
    const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: otlpJson(service, messages.slice(i, i + perRequest), first + i) });
    if (res.status !== 200) throw new Error(`${service}: request answered ${res.status}: ${await res.text()}`);
  }
}

function yaml(endpoint: string, templates = 'per_service: true'): string {
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
async function exported(daemons: RunningDaemon[], records: number): Promise<boolean> {
  let n = 0;
  for (const d of daemons) {
    const stats = (await (await fetch(`http://127.0.0.1:${d.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { exported?: number } } };
    n += stats.exporters.clickhouse.exported ?? 0;
  }
  return n >= records;
}

interface StoredRow {
  line: number;
  raw: string;
  current: string;
  template: string;
}

/** The rows of a service as a user's SQL sees them, after the dictionaries reloaded. */
async function storedRows(client: ClickHouseClient, service: string): Promise<StoredRow[]> {
  await client.command({ query: 'SYSTEM RELOAD DICTIONARIES' });
  return queryRows<StoredRow>(
    client,
    `SELECT toUInt32(LogAttributes['line']) AS line, toString(TemplateId) AS raw, toString(CurrentTemplateId) AS current, Template AS template
     FROM otel.otel_logs WHERE ServiceName = '${service}' ORDER BY line`,
  );
}

/** Every current id is a root of the lineage (no edge leaves it) and has a text. */
async function checkForest(t: Test, client: ClickHouseClient, what: string): Promise<void> {
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



t.test('as stored and resolved, a dataset is grouped exactly as the miner grouped it offline, in requests of 2,000 and of 1', { skip: haveData ? false : `no sample data at ${DEFAULT_DATA_DIR}` }, async (t) => {
  const store = tempDir('lineage');
  const daemon = await startTestDaemon(yaml(`embedded://${store}`));
  t.teardown(() => daemon.stop());
  const client = embeddedClient(store);
  t.teardown(() => client.close());
  let sent = 0;
  for (const name of DATASETS) {
    const { messages, truth } = readDataset(name);
    const offline = mineMessages(messages);
    for (const perRequest of [2000, 1]) {
      const service = `${name}-${perRequest}`;
      await send(daemon, service, messages, perRequest);
      sent += messages.length;
      t.ok(await waitFor(() => exported([daemon], sent), 60_000), `${service}: all ${messages.length} records exported, with their templates`);
      const rows = await storedRows(client, service);
      const current = rows.map((r) => r.current);
      t.equal(groupingAccuracy(current, offline), 1, `${service}: the resolved groups are the offline groups`);
      t.equal(groupingAccuracy(current, truth), groupingAccuracy(offline, truth), `${service}: grouping accuracy as stored equals offline (${groupingAccuracy(current, truth).toFixed(3)})`);
      t.ok(groupingAccuracy(rows.map((r) => r.raw), truth) < groupingAccuracy(current, truth), `${service}: without the lineage the ids split events (${groupingAccuracy(rows.map((r) => r.raw), truth).toFixed(3)})`);
      t.same(
        rows.map((r) => normaliseTemplate(r.template)),
        offline.map(normaliseTemplate),
        `${service}: the Template column is the offline template text of each line`,
      );
    }
  }
  await checkForest(t, client, 'one daemon');
});

t.test('a restart between, evictions, and two daemons writing one ClickHouse: every id resolves to one current template', { skip: haveData ? false : `no sample data at ${DEFAULT_DATA_DIR}` }, async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('lineage-front') });
  t.teardown(() => front.close());
  const { messages } = readDataset('Linux');
  const half = messages.length / 2;
  // A small max_templates evicts; a restart starts from the stored templates; two daemons learn
  // the same events in different orders.
  const a = await startTestDaemon(yaml(front.url, 'max_templates: 60'));
  await send(a, 'linux', messages.slice(0, half), 100);
  await a.stop();
  const a2 = await startTestDaemon(yaml(front.url, 'max_templates: 60'));
  t.teardown(() => a2.stop());
  const b = await startTestDaemon(yaml(front.url));
  t.teardown(() => b.stop());
  await Promise.all([send(a2, 'linux', messages.slice(half), 100, half), send(b, 'linux', [...messages].reverse(), 250, messages.length)]);
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  // The first daemon exported its half before it stopped.
  t.ok(await waitFor(() => exported([a2, b], half + messages.length), 60_000), 'all records exported, with their templates');
  t.equal((await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n, String(2 * messages.length), 'all rows stored');
  await client.command({ query: 'SYSTEM RELOAD DICTIONARIES' });
  const [lineage] = await queryRows<{ edges: string }>(client, 'SELECT toString(count()) AS edges FROM otel.log_templates_lineage FINAL');
  t.ok(Number(lineage!.edges) > 0, `${lineage!.edges} lineage edges`);
  await checkForest(t, client, 'restart, evictions, two daemons');
  const [hourly] = await queryRows<{ rows: string; counted: string }>(
    client,
    'SELECT toString((SELECT count() FROM otel.otel_logs)) AS rows, toString(sum(Count)) AS counted FROM (SELECT CurrentTemplateId, sum(Count) AS Count FROM otel.log_templates_hourly GROUP BY CurrentTemplateId)',
  );
  t.equal(hourly!.counted, hourly!.rows, 'the hourly counts by current template add up to the rows');
});
