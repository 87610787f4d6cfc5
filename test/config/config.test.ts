import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/daemon.js';
import { ConfigError } from '../../src/config/errors.js';
import { PROJECT_ROOT, runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'otelhouse-config-'));
let n = 0;
function configFile(text: string): string {
  const file = join(dir, `config-${n++}.yaml`);
  writeFileSync(file, text);
  return file;
}

const VALID = `
receivers:
  otlp:
    protocols:
      grpc:
      http:
        endpoint: 127.0.0.1:4318
processors:
  batch:
exporters:
  clickhouse:
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [clickhouse]
`;

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig({ text }, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

t.test('defaults are filled in per component', async (t) => {
  const config = loadConfig({ text: VALID }, {});
  const otlp = config.receivers.get('otlp')!.config as { protocols: { grpc: { endpoint: string; max_recv_msg_size_mib: number }; http: { endpoint: string } } };
  t.equal(otlp.protocols.grpc.endpoint, '0.0.0.0:4317');
  t.equal(otlp.protocols.grpc.max_recv_msg_size_mib, 4);
  t.equal(otlp.protocols.http.endpoint, '127.0.0.1:4318');
  const batch = config.processors.get('batch')!.config as { send_batch_size: number; timeout: number };
  t.equal(batch.send_batch_size, 8192);
  t.equal(batch.timeout, 200, 'durations are parsed to milliseconds');
  const ch = config.exporters.get('clickhouse')!.config as { endpoint: string; database: string };
  t.equal(ch.endpoint, `embedded://${join(process.cwd(), 'data/clickhouse')}`, 'a config given as text: relative to the working directory');
  t.equal(ch.database, 'otel');
  t.equal(config.telemetry.metrics.address, '0.0.0.0:8888');
  t.equal(config.shutdownTimeoutMs, 30_000);
});

t.test('env expansion: ${env:NAME}, ${env:NAME:-default}, typed whole values, $$', async (t) => {
  const text = VALID.replace('endpoint: 127.0.0.1:4318', 'endpoint: ${env:HTTP_HOST:-127.0.0.1}:${env:HTTP_PORT}').replace('  batch:\n', '  batch:\n    send_batch_size: ${env:BATCH}\n');
  const config = loadConfig({ text }, { HTTP_PORT: '5555', BATCH: '123' });
  const http = (config.receivers.get('otlp')!.config as { protocols: { http: { endpoint: string } } }).protocols.http;
  t.equal(http.endpoint, '127.0.0.1:5555');
  t.equal((config.processors.get('batch')!.config as { send_batch_size: number }).send_batch_size, 123, 'a whole reference is typed as a YAML scalar');
  const literal = loadConfig({ text: VALID.replace('  clickhouse:\n', '  clickhouse:\n    password: "pa$$word"\n') }, {});
  t.equal((literal.exporters.get('clickhouse')!.config as { password: string }).password, 'pa$word');
});

t.test('every mistake is reported at once, each with its path', async (t) => {
  const text = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "not-an-endpoint"
        colour: blue
processors:
  batch:
    timeout: soon
exporters:
  clickhouse:
    endpoint: ftp://example
    password: \${env:CH_PASSWORD}
service:
  pipelines:
    logs:
      receivers: [otlp, syslog]
      processors: [batch, memory_limiter]
      exporters: [clickhouse]
`;
  const issues = issuesOf(text, {});
  t.match(issues, [
    /^exporters\.clickhouse\.password: environment variable CH_PASSWORD is not set/,
    /^receivers\.otlp\.protocols\.grpc\.endpoint: not host:port/,
    /^receivers\.otlp\.protocols\.grpc\.colour: unknown key/,
    /^processors\.batch\.timeout: not a duration/,
    /^exporters\.clickhouse\.endpoint: expected http\(s\):\/\/host:port or embedded:\/\/PATH/,
    /^service\.pipelines\.logs\.receivers\[1\]: "syslog" is not defined under receivers/,
    /^service\.pipelines\.logs\.processors\[1\]: "memory_limiter" is not defined under processors/,
  ]);
  t.equal(issues.length, 7);
});

t.test('unknown component types, top-level keys and non-logs pipelines', async (t) => {
  const issues = issuesOf(`
receivers:
  kafka:
exporters:
  clickhouse:
extensions:
  health_check:
service:
  pipelines:
    traces:
      receivers: [kafka]
      exporters: [clickhouse]
`);
  t.match(issues, [/^extensions\.health_check: unknown extension type "health_check" \(known: bearertokenauth, console\)/]);
  const more = issuesOf(VALID.replace('    logs:\n', '    traces:\n').replace('  otlp:\n', '  kafka:\n  otlp:\n'));
  t.match(more.join('\n'), /receivers\.kafka: unknown receiver type "kafka" \(known: json_ingest, otlp, syslog\)/);
  t.match(more.join('\n'), /service\.pipelines\.traces: only logs pipelines are supported/);
});

t.test('TLS, auth and limits: each mistake names its key', async (t) => {
  const receivers = `
receivers:
  otlp:
    protocols:
      grpc:
        tls: { cert_file: /c.pem }
        auth: { authenticator: bearertokenauth/missing }
      http:
        tls: { cert_file: /c.pem, key_file: /k.pem, min_version: "1.4", reload_interval: soon }
        auth: { authenticator: bearertokenauth }
        read_header_timeout: 5s
        read_timeout: 2s
  json_ingest:
    api_keys: [k]
    auth: { authenticator: bearertokenauth }
  syslog:
    tcp: { tls: { key_file: /k.pem, cert_pem: x, cert_file: /c.pem } }
extensions:
  bearertokenauth:
    scheme: Bearer
  bearertokenauth/file:
    filename: /tokens
    token: t
exporters:
  debug:
service:
  extensions: [bearertokenauth/file, bearertokenauth/undefined]
  pipelines:
    logs: { receivers: [otlp, json_ingest, syslog], exporters: [debug] }
`;
  t.same(issuesOf(receivers).sort(), [
    'extensions.bearertokenauth/file: set either token/tokens or filename, not both (the file is the one source of tokens when given)',
    'extensions.bearertokenauth: set token, tokens or filename',
    'receivers.json_ingest.api_keys: set api_keys or auth, not both',
    'receivers.json_ingest.auth.authenticator: "bearertokenauth" is not an extension listed in service.extensions (define it under extensions and list it there)',
    'receivers.otlp.protocols.grpc.auth.authenticator: "bearertokenauth/missing" is not an extension listed in service.extensions (define it under extensions and list it there)',
    'receivers.otlp.protocols.grpc.tls.key_file: set one of key_file or key_pem',
    'receivers.otlp.protocols.http.auth.authenticator: "bearertokenauth" is not an extension listed in service.extensions (define it under extensions and list it there)',
    'receivers.otlp.protocols.http.tls.min_version: expected "1.0", "1.1", "1.2" or "1.3"',
    'receivers.otlp.protocols.http.tls.reload_interval: not a duration: "soon" (use e.g. 200ms, 5s, 1m)',
    'receivers.syslog.tcp.tls.cert_file: set one of cert_file or cert_pem',
    'service.extensions[1]: "bearertokenauth/undefined" is not defined under extensions',
  ]);
  const timeouts = issuesOf(VALID.replace('        endpoint: 127.0.0.1:4318\n', '        endpoint: 127.0.0.1:4318\n        read_header_timeout: 5s\n        read_timeout: 2s\n'));
  t.same(timeouts, ['receivers.otlp.protocols.http.read_timeout: read_timeout must be 0 or at least read_header_timeout']);
  const defaults = loadConfig({ text: VALID }, {}).receivers.get('otlp')!.config as { protocols: { grpc: Record<string, unknown>; http: Record<string, unknown> } };
  t.match(
    defaults.protocols.grpc,
    { max_concurrent_streams: 100, max_connections: 4096, connection_timeout: 10_000, keepalive: { server_parameters: { max_connection_idle: 300_000 } } },
    'gRPC limit defaults',
  );
  t.match(defaults.protocols.http, { max_connections: 4096, read_header_timeout: 10_000, read_timeout: 60_000, idle_timeout: 60_000 }, 'HTTP limit defaults');
  const connectionLimits = issuesOf(
    VALID.replace('      grpc:\n', '      grpc: { connection_timeout: 0 }\n')
      .replace('  otlp:\n', '  syslog: { tcp: { idle_timeout: soon } }\n  otlp:\n')
      .replace('receivers: [otlp]', 'receivers: [otlp, syslog]'),
  );
  t.same(connectionLimits.sort(), [
    'receivers.otlp.protocols.grpc.connection_timeout: must be greater than 0 (it frees connections that never send anything)',
    'receivers.syslog.tcp.idle_timeout: not a duration: "soon" (use e.g. 200ms, 5s, 1m)',
  ]);
  const syslog = loadConfig({ text: VALID.replace('  otlp:\n', '  syslog: { tcp: }\n  otlp:\n').replace('receivers: [otlp]', 'receivers: [otlp, syslog]') }, {}).receivers.get('syslog')!.config as {
    tcp: Record<string, unknown>;
  };
  t.match(syslog.tcp, { max_connections: 1024, idle_timeout: 300_000 }, 'syslog TCP limit defaults');
});

t.test('otelhouse validate exits 2 and names the path for each kind of mistake', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown key', VALID.replace('  batch:\n', '  batch:\n    send_batch_sise: 10\n'), /processors\.batch\.send_batch_sise: unknown key/],
    ['bad endpoint', VALID.replace('127.0.0.1:4318', '127.0.0.1:99999'), /receivers\.otlp\.protocols\.http\.endpoint: not host:port/],
    ['missing component', VALID.replace('exporters: [clickhouse]', 'exporters: [clickhouse, debug]'), /service\.pipelines\.logs\.exporters\[1\]: "debug" is not defined under exporters/],
    [
      'missing env var',
      VALID.replace('  clickhouse:\n', '  clickhouse:\n    endpoint: ${env:OTELHOUSE_TEST_UNSET_VAR}\n'),
      /exporters\.clickhouse\.endpoint: environment variable OTELHOUSE_TEST_UNSET_VAR is not set and has no default/,
    ],
    ['YAML syntax', 'receivers: [otlp\n', /YAML/],
  ];
  for (const [name, text, expected] of cases) {
    const r = await runCli(['validate', '--config', configFile(text)]);
    t.equal(r.code, 2, `${name}: exit code 2`);
    t.match(r.stderr, expected, `${name}: message names the path`);
  }
  const missing = await runCli(['validate', '--config', join(dir, 'nope.yaml')]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot read .*nope\.yaml: ENOENT/);
});

t.test('a misspelt top-level section is reported with a suggestion, and the rest is still checked, as the README shows', async (t) => {
  const text = VALID.replace('receivers:\n', 'recievers:\n')
    .replace('  batch:\n', '  batch:\n    send_batch_sise: 10\n')
    .replace('exporters: [clickhouse]', 'exporters: [clickhouse, debug]')
    .replace('service:\n', 'extensions:\n  bearertokenauth: { filename: /etc/otelhouse/tokens }\nservice:\n  extensions: [bearertokenauth]\n');
  const r = await runCli(['validate', '--config', configFile(text)]);
  t.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n').slice(1);
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const example = /\$ otelhouse validate --config bad\.yaml\n[^\n]*\n([\s\S]*?)\n```/.exec(readme)![1]!.split('\n');
  t.same(lines, example, "the README's first validate example, line for line");
  const servise = await runCli(['validate', '--config', configFile(`${VALID}servise: {}\n`)]);
  t.match(servise.stderr, /servise: unknown key \(did you mean service\?\)/);
});

t.test('validate checks that the files a config names can be read, each under its key', async (t) => {
  const files = mkdtempSync(join(dir, 'files-'));
  writeFileSync(join(files, 'tls.crt'), 'stand-in\n');
  writeFileSync(join(files, 'unreadable.key'), 'stand-in\n', { mode: 0o000 });
  mkdirSync(join(files, 'a-directory'));
  const config = join(files, 'otelhouse.yaml');
  writeFileSync(
    config,
    `
extensions:
  bearertokenauth:
    filename: tokens
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
        tls: { cert_file: tls.crt, key_file: missing.key, client_ca_file: a-directory }
        auth: { authenticator: bearertokenauth }
  syslog:
    tcp: { listen_address: 127.0.0.1:5514, tls: { cert_file: ${files}/tls.crt, key_file: ./unreadable.key } }
exporters:
  otlp:
    endpoint: gateway:4317
    tls: { ca_file: ../${files.split('/').at(-1)}/ca.crt }
service:
  extensions: [bearertokenauth]
  pipelines:
    logs: { receivers: [otlp, syslog], exporters: [otlp] }
`,
  );
  const r = await runCli(['validate', '--config', config]);
  t.equal(r.code, 2);
  const lines = r.stderr
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim());
  const expected = [
    `exporters.otlp.tls.ca_file: cannot read ${files}/ca.crt: ENOENT`,
    `extensions.bearertokenauth.filename: cannot read ${files}/tokens: ENOENT`,
    `receivers.otlp.protocols.grpc.tls.client_ca_file: cannot read ${files}/a-directory: not a file`,
    `receivers.otlp.protocols.grpc.tls.key_file: cannot read ${files}/missing.key: ENOENT`,
  ];
  // root reads a file whatever its mode, so the unreadable key is only unreadable to others.
  if (process.getuid?.() !== 0) expected.push(`receivers.syslog.tcp.tls.key_file: cannot read ${files}/unreadable.key: EACCES`);
  t.same(lines.sort(), expected.sort(), "relative names are read from the config file's directory; the existing certificate passes");
});

t.test('the shipped configs validate', async (t) => {
  const files = ['config/otelhouse.yaml', ...readdirSync(join(PROJECT_ROOT, 'config/examples')).map((f) => `config/examples/${f}`)];
  t.ok(files.length >= 2);
  // secure.yaml names certificates and token files under /etc/otelhouse, which validate requires
  // to be readable: it is checked as a copy pointing at stand-ins for them.
  const etc = mkdtempSync(join(tmpdir(), 'otelhouse-etc-'));
  for (const f of ['tokens/tokens', 'tokens/ingest-keys', 'tls/tls.crt', 'tls/tls.key', 'tls/ca.crt']) {
    mkdirSync(dirname(join(etc, f)), { recursive: true });
    writeFileSync(join(etc, f), 'stand-in\n');
  }
  for (const shipped of files) {
    let file = shipped;
    if (shipped.endsWith('/secure.yaml')) {
      file = join(etc, 'secure.yaml');
      writeFileSync(file, readFileSync(join(PROJECT_ROOT, shipped), 'utf8').replaceAll('/etc/otelhouse/', `${etc}/`));
    }
    const r = await runCli(['validate', '--config', file]);
    t.equal(r.code, 0, `${file} is valid: ${r.stderr}`);
    t.match(r.stdout, /valid/);
  }
});

t.test("the README's config in short says what config/otelhouse.yaml says", async (t) => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const block = /The shipped \[`config\/otelhouse\.yaml`\][\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
  t.ok(block, 'the README shows the shipped config');
  // The shipped file writes its addresses and paths as ${env:NAME:-default}; the README, the defaults.
  const shipped = parseYaml(readFileSync(join(PROJECT_ROOT, 'config/otelhouse.yaml'), 'utf8').replace(/\$\{env:[A-Z_]+:-([^}]*)\}/g, '$1'));
  t.has(shipped, parseYaml(block![1]!), 'every key the README shows has the shipped value');
});

t.test('--help, --version and usage errors', async (t) => {
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /otelhouse validate --config FILE/);
  const version = await runCli(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /^otelhouse \d+\.\d+\.\d+/);
  const bad = await runCli(['frobnicate']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /unknown command "frobnicate"/);
});

t.test('service.workers: a number of processes or auto; several need a ClickHouse server', async (t) => {
  t.equal(loadConfig({ text: VALID }, {}).workers, 1, 'one process by default');
  const server = VALID.replace('  clickhouse:\n', '  clickhouse:\n    endpoint: http://clickhouse:8123\n');
  const withWorkers = (text: string, workers: string) => text.replace('service:\n', `service:\n  workers: ${workers}\n`);
  t.equal(loadConfig({ text: withWorkers(server, '3') }, {}).workers, 3);
  t.equal(loadConfig({ text: withWorkers(server, 'auto') }, {}).workers, availableParallelism(), 'auto: one a core');
  for (const bad of ['0', '1.5', 'two', '-1'])
    t.same(issuesOf(withWorkers(server, bad)), ['service.workers: expected a whole number of processes, at least 1, or auto (one a core)'], `workers: ${bad} is refused`);
  const embedded = issuesOf(withWorkers(VALID, '2'));
  t.equal(embedded.length, 1, 'the embedded store with two workers is refused');
  t.match(
    embedded[0],
    /^service\.workers: 2 worker processes, but exporters\.clickhouse stores into the embedded ClickHouse engine \(chDB\), which one process opens at a time; point its endpoint at a ClickHouse server, or set service\.workers: 1$/,
  );
  t.same(issuesOf(withWorkers(VALID, '1')), [], 'the embedded store with one worker is fine');
});
