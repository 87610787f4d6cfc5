import t from 'tap';
import type { JsonIngestReceiver } from '../../../src/receivers/json_ingest/json-ingest-receiver.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startDaemonProcess } from '../../support/cli.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, templatesPipelineYaml, type RunningDaemon } from '../../support/daemon.js';
import { freePort } from '../../support/ports.js';

function daemonYaml(path: string): string {
  return templatesPipelineYaml(path, 'parallel_threshold: 50, pool_size: 2, add_template_attribute: true');
}

const LINES = [
  (i: number) => `Connection timeout after ${i % 50} seconds to db-${i % 3}.internal:5432`,
  (i: number) => `session opened for user ${['alice', 'bob', 'carol', 'dave'][i % 4]} by (uid=${1000 + i})`,
  (i: number) => `GET /api/orders/${i} returned 200 in ${i % 900} ms`,
];

function entries(from: number, n: number, service: string) {
  return Array.from({ length: n }, (_, k) => ({ org: 'acme', message: LINES[(from + k) % LINES.length]!(from + k), service, level: k % 7 === 0 ? 'error' : 'info' }));
}

async function post(d: RunningDaemon, body: unknown): Promise<{ accepted: number; matched: number }> {
  const port = (d.service.receivers[0]!.component as JsonIngestReceiver).port;
  const res = await fetch(`http://127.0.0.1:${port}/logs/ingest`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as { accepted: number; matched: number };
}

async function health(d: RunningDaemon): Promise<{ templates_loaded: number }> {
  return (await fetch(`http://127.0.0.1:${d.telemetryPort}/health`)).json() as Promise<{ templates_loaded: number }>;
}

type Row = { Body: string; TemplateId: string; TemplateParams: string[]; tmpl: string };
const ROWS = (service: string) =>
  `SELECT Body, toString(TemplateId) AS TemplateId, TemplateParams, LogAttributes['log.record.template'] AS tmpl FROM otel.otel_logs WHERE ServiceName = '${service}' ORDER BY Body`;

t.test('templates: stored with the logs, in log_templates and the hourly view; a restart matches with the same ids', async (t) => {
  const path = tempDir('templates');
  let daemon = await startTestDaemon(daemonYaml(path));
  // The first pass learns the templates (early records get the specific templates seen so far);
  // the second pass is matched on what was learned.
  await post(daemon, { logs: entries(0, 300, 'warmup') });
  const first = await post(daemon, { logs: entries(0, 300, 'checkout') });
  t.equal(first.accepted, 300);
  t.equal(first.matched, 300, 'json_ingest reports every record matched to a template');
  const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as Record<string, unknown>;
  const processor = (stats.processors as Record<string, Record<string, number>>)['templates']!;
  t.equal(processor.parallel_threshold, 50);
  t.equal(processor.pool_size, 2);
  t.ok((await health(daemon)).templates_loaded >= 3, '/health reports the templates loaded');
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_processor_templates_match_ratio\{processor="templates"\}/);
  t.match(metrics, /otelhouse_processor_templates_new_total\{processor="templates"\} [1-9]/);
  t.match(metrics, /otelhouse_processor_templates_pool_utilization/);
  await daemon.stop();

  let client = embeddedClient(path);
  const rows = await queryRows<Row>(client, ROWS('checkout'));
  t.equal(rows.length, 300);
  const timeout = rows.find((r) => r.Body === 'Connection timeout after 6 seconds to db-0.internal:5432')!;
  t.equal(timeout.tmpl, 'Connection timeout after <*> to <*>', 'a quantity with its unit and a host with its port are one value each');
  t.same(timeout.TemplateParams, ['6 seconds', 'db-0.internal:5432']);
  t.ok(
    rows.every((r) => r.TemplateId !== '0'),
    'every row has a template id',
  );
  const templates = await queryRows<{ id: string; text: string; count: string; services: string[] }>(
    client,
    `SELECT toString(TemplateId) AS id, anyLast(Text) AS text, toString(sum(Count)) AS count, groupUniqArrayArray(Services) AS services FROM otel.log_templates GROUP BY TemplateId`,
  );
  const byText = new Map(templates.map((x) => [x.text, x]));
  t.ok(byText.has('Connection timeout after <*> to <*>'), 'log_templates has the template');
  t.same(byText.get('Connection timeout after <*> to <*>')!.services.sort(), ['checkout', 'warmup']);
  const hourly = await queryRows<{ n: string }>(client, `SELECT toString(sum(Count)) AS n FROM otel.log_templates_hourly`);
  t.equal(hourly[0]!.n, '600', 'the hourly view counted every record');
  const before = new Map(rows.map((r) => [r.Body, r.TemplateId]));

  await client.close();

  // Restart on the same store: templates load from ClickHouse and the same logs get the same ids.
  daemon = await startTestDaemon(daemonYaml(path));
  t.ok((await health(daemon)).templates_loaded >= 3, 'templates loaded at start-up');
  const again = await post(daemon, { logs: entries(0, 300, 'restart') });
  t.equal(again.matched, 300);
  await daemon.stop();
  client = embeddedClient(path);
  const after = await queryRows<Row>(client, ROWS('restart'));
  await client.close();
  t.equal(after.length, 300);
  t.ok(
    after.every((r) => r.TemplateId === before.get(r.Body)),
    'the same logs got the same template ids after the restart',
  );

  // Another daemon (its own process and store), fed the same logs, assigns the same ids.
  const otherPath = tempDir('templates-b');
  const port = await freePort();
  const configFile = join(otherPath, 'otelhouse.yaml');
  writeFileSync(configFile, daemonYaml(join(otherPath, 'store')).replace('127.0.0.1:0 }', `127.0.0.1:${port} }`));
  const other = await startDaemonProcess(configFile);
  const send = (body: unknown) => fetch(`http://127.0.0.1:${port}/logs/ingest`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  await send({ logs: entries(0, 300, 'warmup') });
  await send({ logs: entries(0, 300, 'checkout') });
  other.child.kill('SIGTERM');
  t.equal(await other.exited, 0, 'the other daemon drained and exited');
  const otherClient = embeddedClient(join(otherPath, 'store'));
  const otherRows = await queryRows<Row>(otherClient, ROWS('checkout'));
  await otherClient.close();
  t.equal(otherRows.length, 300);
  t.ok(
    otherRows.every((r) => r.TemplateId === before.get(r.Body)),
    'two daemons fed the same logs assign the same ids',
  );

  // The CLI lists what the first daemon stored, per service, most frequent first.
  const firstConfig = join(otherPath, 'first.yaml');
  writeFileSync(firstConfig, daemonYaml(path));
  const listed = await runCli(['templates', '--config', firstConfig, '--service', 'restart', '--top', '2']);
  t.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trim().split('\n');
  t.equal(lines.length, 3, 'a header and the top 2 templates');
  t.match(lines[1]!, /^\s+\d+\s+\d+\s+\S+\s+\S/);
});

t.test('otelhouse mine FILE prints the templates of a plain log file', async (t) => {
  const dir = tempDir('mine');
  const file = join(dir, 'app.log');
  writeFileSync(
    file,
    entries(0, 90, 'x')
      .map((e) => e.message)
      .join('\n'),
  );
  const mined = await runCli(['mine', file, '--top', '10']);
  t.equal(mined.code, 0, mined.stderr);
  t.match(mined.stdout, /^90 lines, 3 templates/);
  t.match(mined.stdout, /30 +\d+ +Connection timeout after <\*> to <\*>/);
  const missing = await runCli(['mine']);
  t.equal(missing.code, 2, 'mine without a file is a usage error');
});

t.test('json_ingest: matched counts records of templates known before the request, as /stats does', async (t) => {
  const daemon = await startTestDaemon(`
receivers:
  json_ingest: { endpoint: 127.0.0.1:0 }
processors:
  templates: {}
  batch: { send_batch_size: 500, timeout: 50ms }
exporters:
  debug: {}
service:
  pipelines:
    logs: { receivers: [json_ingest], processors: [templates, batch], exporters: [debug] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
  t.teardown(() => daemon.stop());
  const event = { org: 'acme', service: 'checkout', message: 'Payment retried after 3 attempts' };
  t.same(await post(daemon, event), { accepted: 1, matched: 0, mined: 1, failed: 0 }, 'a new event makes a template: not matched');
  t.same(await post(daemon, event), { accepted: 1, matched: 1, mined: 0, failed: 0 }, 'the same event again matches it');
  const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { processors: Record<string, Record<string, number>> };
  t.equal(stats.processors['templates']!['matched'], 1, '/stats counts the one matched record');
  t.equal(stats.processors['templates']!['mined'], 1, 'and the one mined');
});
