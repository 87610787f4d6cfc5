import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/daemon.js';
import { PROJECT_ROOT, runCli, startDaemonProcess } from '../support/cli.js';
import { tempDir } from '../support/daemon.js';
import { freePort } from '../support/ports.js';

t.test("the shipped config stores into the project's ./data, as `npm start` documents", async (t) => {
  const config = loadConfig({ file: join(PROJECT_ROOT, 'config', 'otelhouse.yaml') }, {});
  const ch = config.exporters.get('clickhouse')!.config as { endpoint: string; sending_queue: { storage: string }; dead_letter: { path: string } };
  t.equal(ch.endpoint, `embedded://${join(PROJECT_ROOT, 'data', 'clickhouse')}`);
  t.equal(ch.sending_queue.storage, join(PROJECT_ROOT, 'data', 'queue'));
  t.equal(ch.dead_letter.path, join(PROJECT_ROOT, 'data', 'dead_letter'));
});

t.test('relative paths resolve against the config file; read-only commands create nothing', async (t) => {
  const home = tempDir('paths-config');
  const elsewhere = tempDir('paths-cwd');
  const port = await freePort();
  // Names unique to this run, so that one resolved against the daemon's working directory (the
  // project root) would be seen there.
  const tag = `paths-${process.pid}`;
  writeFileSync(join(home, 'tokens'), 'secret-token\n');
  const config = join(home, 'otelhouse.yaml');
  writeFileSync(
    config,
    `
extensions:
  bearertokenauth: { filename: ./tokens }
receivers:
  json_ingest: { endpoint: 127.0.0.1:${port}, auth: { authenticator: bearertokenauth } }
processors:
  templates:
  batch: { send_batch_size: 100, timeout: 50ms }
exporters:
  clickhouse:
    endpoint: embedded://./${tag}-store
    sending_queue: { storage: ./${tag}-queue }
    dead_letter: { path: ./${tag}-dead }
service:
  extensions: [bearertokenauth]
  pipelines:
    logs: { receivers: [json_ingest], processors: [templates, batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`,
  );

  const fresh = await runCli(['templates', '--config', config], {}, elsewhere);
  t.equal(fresh.code, 1, 'templates before anything was stored fails');
  t.match(fresh.stderr, new RegExp(`no templates stored yet: ${home}/${tag}-store does not exist`));
  t.equal(existsSync(join(home, `${tag}-store`)), false, 'and does not create the store');
  const validated = await runCli(['validate', '--config', config], {}, elsewhere);
  t.equal(validated.code, 0, validated.stderr);
  t.same(readdirSync(home).sort(), ['otelhouse.yaml', 'tokens'], 'validate creates no store, queue or dead-letter directory');

  const daemon = await startDaemonProcess(config);
  const res = await fetch(`http://127.0.0.1:${port}/logs/ingest`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer secret-token' },
    body: JSON.stringify({ logs: Array.from({ length: 20 }, (_, i) => ({ org: 'acme', service: 'paths', message: `user ${i} logged in from 10.0.0.${i}` })) }),
  });
  t.equal(res.status, 200, "the token file was read from the config file's directory");
  t.match(await res.json(), { accepted: 20 });
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'the daemon drained and exited');
  t.same(readdirSync(home).sort(), ['otelhouse.yaml', `${tag}-queue`, `${tag}-store`, 'tokens'], 'store and queue beside the config');
  // The dead-letter directory is made only when a batch goes there.
  const ch = loadConfig({ file: config }, {}).exporters.get('clickhouse')!.config as { dead_letter: { path: string } };
  t.equal(ch.dead_letter.path, join(home, `${tag}-dead`), 'dead letters too');
  t.same(
    readdirSync(PROJECT_ROOT).filter((f) => f.startsWith(tag)),
    [],
    "nothing in the daemon's working directory",
  );

  const listed = await runCli(['templates', '--config', config, '--service', 'paths'], {}, elsewhere);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /\n\s+20\s+\d+\s+paths\s+user <\*> logged in from <\*>/, 'templates read the store the config names');
  t.same(readdirSync(elsewhere), [], 'templates and validate left nothing in their working directory');
});
