import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CLI, PROJECT_ROOT, runCli, startDaemonProcess } from '../support/cli.js';
import { tempDir, waitFor } from '../support/daemon.js';
import { freePort } from '../support/ports.js';

/*
 * `otelhouse query`: through the running daemon's console API, and from the store itself once the
 * daemon is gone, with the same answers; never creating a store.
 */

function config(dir: string, ports: { json: number; console: number; telemetry: number }, store = join(dir, 'clickhouse')): string {
  const file = join(dir, `otelhouse-${ports.console}.yaml`);
  writeFileSync(
    file,
    `
receivers:
  json_ingest: { endpoint: 127.0.0.1:${ports.json} }
processors:
  templates: {}
  batch: { send_batch_size: 100, timeout: 20ms }
exporters:
  clickhouse: { endpoint: "embedded://${store}" }
extensions:
  console: { endpoint: 127.0.0.1:${ports.console} }
service:
  extensions: [console]
  pipelines:
    logs: { receivers: [json_ingest], processors: [templates, batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:${ports.telemetry} }
`,
  );
  return file;
}

async function ingest(port: number, logs: object[]): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/logs/ingest`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logs }) });
  if (res.status !== 200) throw new Error(`json_ingest answered ${res.status}`);
}

t.test('query logs and templates: from the daemon, then from the store; filters, output, follow', async (t) => {
  const dir = tempDir('query-cli');
  const ports = { json: await freePort(), console: await freePort(), telemetry: await freePort() };
  const file = config(dir, ports);
  const daemon = await startDaemonProcess(file);
  t.teardown(() => void daemon.child.kill('SIGKILL'));
  const at = (i: number) => new Date(Date.now() - 60_000 + i * 1000).toISOString();
  await ingest(ports.json, [
    ...Array.from({ length: 5 }, (_, i) => ({ org: 'acme', service: 'api', level: 'ERROR', message: `Connection to db-${i} refused`, metadata: { shard: String(i % 2) }, timestamp: at(i) })),
    ...Array.from({ length: 3 }, (_, i) => ({ org: 'acme', service: 'web', level: 'INFO', message: `Rendered page ${i} in ${i + 1}ms`, timestamp: at(10 + i) })),
  ]);
  t.ok(
    await waitFor(async () => {
      const stats = (await (await fetch(`http://127.0.0.1:${ports.telemetry}/stats`)).json()) as { exporters: { clickhouse: { exported?: number } } };
      return (stats.exporters.clickhouse.exported ?? 0) >= 8;
    }),
    'stored',
  );

  const viaApi = await runCli(['query', 'logs', '-c', file, '--service', 'api', '--severity', 'error', '--attr', 'shard=1']);
  t.equal(viaApi.code, 0, viaApi.stderr);
  const lines = viaApi.stdout.trim().split('\n');
  t.equal(lines.length, 2, 'the two records of shard 1');
  t.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z {2}ERROR {2}api +Connection to db-3 refused$/);
  const json = await runCli(['query', 'logs', '-c', file, '--q', 'rendered', '--output', 'json']);
  t.equal(json.code, 0);
  const records = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { body: string; template: string });
  t.same(
    records.map((r) => r.body),
    ['Rendered page 2 in 3ms', 'Rendered page 1 in 2ms', 'Rendered page 0 in 1ms'],
  );
  t.match(records[0]!.template, /<\*>/);
  const templates = await runCli(['query', 'templates', '-c', file, '--output', 'json']);
  t.equal(templates.code, 0);
  const list = templates.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { text: string; count: number });
  t.same(
    list.map((x) => [x.text, x.count]),
    [
      ['Connection to db-<*> refused', 5],
      ['Rendered page <*> in <*>', 3],
    ],
  );
  const table = await runCli(['query', 'templates', '-c', file, '--service', 'web']);
  t.match(table.stdout, /count +change +max +id +services +template\n +3 +new +INFO +\d+ +web +Rendered page <\*> in <\*>\n$/);

  const bad = await runCli(['query', 'logs', '-c', file, '--severity', 'loud']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--severity: expected trace, debug/);
  t.match((await runCli(['query', 'logs', '-c', file, '--trace-id', 'x'])).stderr, /--trace-id: expected 32 hexadecimal digits/);
  t.match((await runCli(['query', 'logs', '-c', file, '--attr', 'nokey'])).stderr, /--attr: expected KEY=VALUE/);
  t.match((await runCli(['query', 'templates', '-c', file, '--sort', 'size'])).stderr, /--sort: expected count, new or change/);
  t.equal((await runCli(['query', 'nothing', '-c', file])).code, 2);

  // --follow: the page, oldest first, then what arrives.
  const follower = spawn(process.execPath, [CLI, 'query', 'logs', '-c', file, '--service', 'web', '--follow'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let followed = '';
  follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
  t.teardown(() => void follower.kill('SIGKILL'));
  t.ok(await waitFor(async () => followed.split('\n').length > 3, 15_000), 'the page is printed');
  await ingest(ports.json, [
    { org: 'acme', service: 'web', level: 'WARN', message: 'Rendered page 9 in 99ms' },
    { org: 'acme', service: 'api', level: 'WARN', message: 'not this one' },
  ]);
  t.ok(await waitFor(async () => followed.includes('Rendered page 9'), 15_000), 'a new record is printed as it is exported');
  follower.kill('SIGTERM');
  t.same(
    followed
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\S+ +\S+ +\S+ +/, '')),
    ['Rendered page 0 in 1ms', 'Rendered page 1 in 2ms', 'Rendered page 2 in 3ms', 'Rendered page 9 in 99ms'],
  );

  daemon.child.kill('SIGTERM');
  await daemon.exited;
  const direct = await runCli(['query', 'logs', '-c', file, '--service', 'api', '--severity', 'error', '--attr', 'shard=1']);
  t.equal(direct.code, 0, direct.stderr);
  t.equal(direct.stdout, viaApi.stdout, 'the store itself gives the same answer once the daemon is gone');
  const directTemplates = await runCli(['query', 'templates', '-c', file, '--output', 'json']);
  t.same(
    directTemplates.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { text: string }).text),
    ['Connection to db-<*> refused', 'Rendered page <*> in <*>', 'not this one'],
  );
  const noFollow = await runCli(['query', 'logs', '-c', file, '--follow']);
  t.equal(noFollow.code, 2);
  t.match(noFollow.stderr, /--follow: needs a running daemon/);
});

t.test('query never creates a store where none exists', async (t) => {
  const dir = tempDir('query-none');
  const store = join(dir, 'never');
  const file = config(dir, { json: await freePort(), console: await freePort(), telemetry: await freePort() }, store);
  const r = await runCli(['query', 'logs', '-c', file]);
  t.equal(r.code, 1);
  t.match(r.stderr, /no logs stored yet: .*never does not exist/);
  t.notOk(existsSync(store), 'no store was created');
});
