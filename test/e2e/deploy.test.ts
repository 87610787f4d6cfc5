import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { builtinComponents } from '../../src/components.js';
import { parseConfig } from '../../src/config/loader.js';
import { loadConfig } from '../../src/daemon.js';
import { PROJECT_ROOT } from '../support/cli.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir } from '../support/daemon.js';
import { renderChart, rendererUnavailable } from '../support/helm.js';
import { validateObject } from '../support/k8s-validate.js';
import { MANIFESTS, SIDECAR_VALUES, renderManifest } from '../support/render-manifests.js';

/*
 * No Docker engine and no hadolint here: the Dockerfile, the compose file and the Grafana
 * provisioning are parsed and checked for what would break them (a root user, no healthcheck,
 * ports that do not match the chart, a service or volume that does not exist, SQL that ClickHouse
 * refuses). The plain Kubernetes manifests must be what the chart renders now.
 */

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');

/** The chart's container ports: what the image must expose and compose must publish. */
const CHART_VALUES = parseYaml(read('helm/otelhouse/values.yaml')) as { ports: Record<string, { containerPort: number; protocol: string }> };
const CHART_PORTS = Object.values(CHART_VALUES.ports)
  .map((p) => (p.protocol === 'UDP' ? `${p.containerPort}/udp` : String(p.containerPort)))
  .sort();

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(pending)!;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage++;
    out.push({ keyword, args: m[2]!, stage });
    pending = '';
  }
  return out;
}

t.test("Dockerfile: multi-stage, production dependencies, non-root, healthcheck, the chart's ports, PID 1 node", async (t) => {
  const instructions = parseDockerfile(read('deploy/Dockerfile'));
  const froms = instructions.filter((i) => i.keyword === 'FROM');
  t.ok(froms.length >= 3, 'build, dependencies and runtime stages');
  const stageNames = froms.map((f) => /\sAS\s+(\S+)/i.exec(f.args)?.[1]).filter(Boolean) as string[];
  const args = Object.fromEntries(instructions.filter((i) => i.keyword === 'ARG' && i.stage === -1).map((i) => i.args.split('=') as [string, string]));
  for (const f of froms) {
    const image = f.args.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_, name: string) => args[name] ?? '');
    t.match(image, /^[\w./-]+:[\w.-]+$/, `FROM ${f.args}: a tagged image`);
    t.notMatch(image, /:latest$/, 'not :latest');
  }
  const last = froms.length - 1;
  const final = instructions.filter((i) => i.stage === last);
  for (const copy of instructions.filter((i) => i.keyword === 'COPY')) {
    const from = /--from=(\S+)/.exec(copy.args)?.[1];
    if (from) t.ok(stageNames.includes(from), `COPY --from=${from} names a stage`);
    else {
      const sources = copy.args
        .replace(/--\S+\s*/g, '')
        .split(/\s+/)
        .slice(0, -1);
      for (const src of sources) t.ok(existsSync(join(PROJECT_ROOT, src)), `COPY ${src}: exists in the repository`);
    }
  }
  const dockerignore = read('.dockerignore')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  for (const needed of ['src', 'proto', 'config', 'package.json', 'package-lock.json']) t.notOk(dockerignore.includes(needed), `${needed} is in the build context`);
  t.ok(
    instructions.some((i) => i.keyword === 'RUN' && /npm ci --omit=dev/.test(i.args)),
    'npm ci --omit=dev',
  );
  const depsStage = froms.findIndex((f) => instructions.some((i) => i.stage === froms.indexOf(f) && i.keyword === 'RUN' && /npm ci --omit=dev/.test(i.args)));
  const depsName = /\sAS\s+(\S+)/i.exec(froms[depsStage]!.args)![1];
  t.ok(
    final.some((i) => i.keyword === 'COPY' && i.args.includes(`--from=${depsName}`) && i.args.includes('node_modules')),
    'the runtime gets the production node_modules only',
  );
  t.notOk(
    final.some((i) => i.keyword === 'RUN' && /npm (ci|install)(?!.*--omit=dev)/.test(i.args)),
    'no dev dependencies installed in the runtime stage',
  );

  const user = final.filter((i) => i.keyword === 'USER').at(-1);
  t.ok(user, 'the runtime stage sets USER');
  const [uid, gid] = user!.args.split(':');
  t.match(uid, /^[1-9]\d*$/, 'a numeric non-root uid (Kubernetes runAsNonRoot can check it)');
  const values = CHART_VALUES as unknown as { securityContext: { runAsUser: number; runAsGroup: number } };
  t.equal(Number(uid), values.securityContext.runAsUser, 'the uid the chart runs as');
  t.equal(Number(gid), values.securityContext.runAsGroup, 'the gid the chart runs as');
  t.ok(
    final.some((i) => i.keyword === 'RUN' && i.args.includes(`useradd`) && i.args.includes(`--uid ${uid}`)),
    'the user exists in the image',
  );

  const exposed = final
    .filter((i) => i.keyword === 'EXPOSE')
    .flatMap((i) => i.args.split(/\s+/))
    .sort();
  t.same(exposed, CHART_PORTS, "EXPOSE lists the chart's ports");

  const health = final.find((i) => i.keyword === 'HEALTHCHECK');
  t.ok(health, 'HEALTHCHECK');
  t.match(health!.args, /CMD \[.*\/health/, 'the healthcheck asks /health, in exec form (no shell needed)');
  t.match(health!.args, /OTELHOUSE_HEALTH_PORT/);
  t.ok(
    final.some((i) => i.keyword === 'ENV' && i.args.includes(`OTELHOUSE_HEALTH_PORT=${CHART_VALUES.ports['metrics']!.containerPort}`)),
    'the healthcheck port is the telemetry port',
  );

  // The image's config, read as the daemon reads it there: from its place in the image, with the
  // image's environment. Whatever it writes must be on the volume (the rest is not writable).
  const imageEnv = Object.fromEntries(
    final
      .filter((i) => i.keyword === 'ENV')
      .flatMap((i) => i.args.split(/\s+/))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const configCopy = final.find((i) => i.keyword === 'COPY' && i.args.startsWith('config/otelhouse.yaml '))!.args.split(/\s+/)[1]!;
  const volume = (JSON.parse(final.find((i) => i.keyword === 'VOLUME')!.args) as string[])[0]!;
  const imageConfig = parseConfig(read('config/otelhouse.yaml'), builtinComponents(), imageEnv, configCopy, dirname(configCopy)).exporters.get('clickhouse')!.config as {
    endpoint: string;
    sending_queue: { storage: string };
    dead_letter: { path: string };
  };
  for (const [key, path] of [
    ['endpoint', imageConfig.endpoint.replace('embedded://', '')],
    ['sending_queue.storage', imageConfig.sending_queue.storage],
    ['dead_letter.path', imageConfig.dead_letter.path],
  ]) {
    t.ok(path!.startsWith(`${volume}/`), `the image's ${key} is on the volume: ${path}`);
  }

  const entrypoint = final.find((i) => i.keyword === 'ENTRYPOINT')!;
  const argv = JSON.parse(entrypoint.args) as string[];
  t.equal(argv[0], 'node', 'exec-form ENTRYPOINT: node is PID 1 and gets SIGTERM itself');
  t.ok(argv.includes('--max-semi-space-size=64'), "the heap flag the CLI's shebang gives");
  const cmd = JSON.parse(final.find((i) => i.keyword === 'CMD')!.args) as string[];
  t.same(cmd.slice(0, 2), ['run', '--config']);
  t.ok(
    final.some((i) => i.keyword === 'COPY' && i.args.endsWith(` ${cmd[2]}`)),
    "the CMD's config file is in the image",
  );
  t.notOk(
    final.some((i) => i.keyword === 'ADD'),
    'COPY, not ADD',
  );
});

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
}

t.test('docker-compose.yml: otelhouse, ClickHouse and Grafana fit together', async (t) => {
  const compose = parseYaml(read('deploy/docker-compose.yml')) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
  const services = compose.services;
  t.same(Object.keys(services).sort(), ['clickhouse', 'grafana', 'otelhouse']);
  for (const [name, s] of Object.entries(services)) {
    t.ok(s.healthcheck?.test?.length, `${name} has a healthcheck`);
    t.ok(s.image, `${name} names its image`);
    if (s.image) t.notMatch(s.image, /:latest$|^[^:]+$/, `${name}: a pinned image tag`);
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      t.ok(services[dep], `${name} depends on ${dep}, which exists`);
      t.equal(condition, 'service_healthy', `${name} waits for ${dep} to be healthy`);
    }
  }
  const named = new Set<string>();
  for (const [name, s] of Object.entries(services)) {
    for (const v of s.volumes ?? []) {
      const [source] = v.split(':');
      if (source!.startsWith('.')) t.ok(existsSync(join(PROJECT_ROOT, 'deploy', source!)), `${name}: bind mount ${source} exists`);
      else {
        t.ok(source! in compose.volumes, `${name}: volume ${source} is declared`);
        named.add(source!);
      }
    }
  }
  t.same([...named].sort(), Object.keys(compose.volumes).sort(), 'every declared volume is used');

  const o = services['otelhouse']!;
  t.ok(existsSync(join(PROJECT_ROOT, 'deploy', o.build!.context, o.build!.dockerfile)), 'otelhouse builds from deploy/Dockerfile');
  const published = o.ports!.map((p) => p.split(':').at(-1)!.replace('/tcp', '')).sort();
  t.same(published, CHART_PORTS, "otelhouse publishes the image's ports");
  t.equal(o.read_only, true, 'read-only root filesystem');
  t.same(o.tmpfs, ['/tmp']);
  t.same(o.cap_drop, ['ALL']);
  t.ok(
    o.volumes!.some((v) => v.endsWith(':/var/lib/otelhouse')),
    'its data directory is a volume',
  );
  const endpoint = new URL(o.environment!['OTELHOUSE_CLICKHOUSE_ENDPOINT']!);
  t.equal(endpoint.hostname, 'clickhouse', 'otelhouse writes to the clickhouse service');
  t.equal(endpoint.port, '8123');
  const env = Object.fromEntries(Object.entries(o.environment!).map(([k, v]) => [k, v.replace(/\$\{(\w+):-([^}]*)\}/g, '$2')]));
  const clickhouseEnv = services['clickhouse']!.environment!;
  t.equal(env['OTELHOUSE_CLICKHOUSE_USERNAME'], clickhouseEnv['CLICKHOUSE_USER'], 'the user the server creates');
  t.equal(o.environment!['OTELHOUSE_CLICKHOUSE_PASSWORD'], clickhouseEnv['CLICKHOUSE_PASSWORD'], 'the same password');
  t.equal(env['OTELHOUSE_CLICKHOUSE_DATABASE'], clickhouseEnv['CLICKHOUSE_DB'], 'the database the server creates');
  const config = loadConfig({ file: join(PROJECT_ROOT, 'config/otelhouse.yaml') }, env);
  t.equal(
    (config.exporters.get('clickhouse')!.config as { endpoint: string }).endpoint,
    'http://clickhouse:8123',
    "the image's default config with compose's environment loads and writes to the server",
  );

  const datasource = (parseYaml(read('deploy/grafana/provisioning/datasources/clickhouse.yaml')) as { datasources: Array<{ uid: string; type: string; jsonData: Record<string, any> }> })
    .datasources[0]!;
  t.equal(datasource.type, 'grafana-clickhouse-datasource');
  t.equal(datasource.jsonData['host'], 'clickhouse', 'Grafana reads the clickhouse service');
  t.equal(datasource.jsonData['username'], clickhouseEnv['CLICKHOUSE_USER']);
  t.match(datasource.jsonData['logs'], { defaultDatabase: 'otel', defaultTable: 'otel_logs', otelEnabled: true });
  t.ok((services['grafana']!.environment!['GF_INSTALL_PLUGINS'] ?? '').includes(datasource.type), 'Grafana installs the datasource plugin');
  const provider = (parseYaml(read('deploy/grafana/provisioning/dashboards/otelhouse.yaml')) as { providers: Array<{ options: { path: string } }> }).providers[0]!;
  t.ok(
    services['grafana']!.volumes!.some((v) => v === `./grafana/dashboards:${provider.options.path}:ro`),
    'the dashboards folder is where the provider looks',
  );
});

/** Grafana's macros and variables, expanded as the ClickHouse plugin would for the last hour. */
function expandGrafanaSql(sql: string): string {
  return sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, '$1 >= now64(3) - INTERVAL 1 HOUR AND $1 <= now64(3)')
    .replace(/\$__timeInterval\(([^)]+)\)/g, 'toStartOfInterval($1, INTERVAL 60 second)')
    .replace(/\$\{service:singlequote\}/g, "'__all'")
    .replace(/\$\{search:sqlstring\}/g, "'timeout'");
}

t.test("the Grafana dashboard's queries run on otelhouse's schema", async (t) => {
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/otelhouse-logs.json')) as {
    uid: string;
    panels: Array<{ title: string; datasource: { uid: string }; targets: Array<{ rawSql: string; datasource: { uid: string } }> }>;
    templating: { list: Array<{ name: string; query: string; datasource?: { uid: string } }> };
  };
  const store = tempDir('grafana-sql');
  const daemon = await startTestDaemon(`
receivers: { otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } } }
processors: { templates: {}, batch: { timeout: 50ms } }
exporters: { clickhouse: { endpoint: "embedded://${store}" } }
service:
  pipelines: { logs: { receivers: [otlp], processors: [templates, batch], exporters: [clickhouse] } }
  telemetry: { metrics: { address: 127.0.0.1:0 } }
`);
  t.teardown(() => daemon.stop());
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
          scopeLogs: [{ logRecords: [{ severityText: 'ERROR', severityNumber: 17, body: { stringValue: 'Connection timeout after 30s' } }] }],
        },
      ],
    }),
  });
  t.equal(res.status, 200);
  const client = embeddedClient(store);
  t.teardown(() => client.close());
  const queries = [
    ...dashboard.panels.flatMap((p) => p.targets.map((q) => [p.title, q.rawSql] as const)),
    ...dashboard.templating.list.filter((v) => v.query).map((v) => [`variable ${v.name}`, v.query] as const),
  ];
  t.ok(queries.length >= 6, 'panels and variables with SQL');
  // Wait for the one log to be stored, so the queries run on data as well as on the schema.
  for (let i = 0; i < 100 && (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === '0'; i++) await new Promise((r) => setTimeout(r, 100));
  for (const [title, sql] of queries) {
    try {
      await queryRows(client, expandGrafanaSql(sql));
      t.pass(`${title}: ClickHouse runs its query`);
    } catch (err) {
      t.fail(`${title}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const [errors] = await queryRows<{ errors: string }>(
    client,
    expandGrafanaSql(dashboard.panels.find((p) => p.title.startsWith('Errors'))!.targets[0]!.rawSql).replace('count() AS errors', 'toString(count()) AS errors'),
  );
  t.equal(errors!.errors, '1', 'the errors panel counts the ERROR log');
  for (const p of dashboard.panels) for (const q of p.targets) t.equal(q.datasource.uid, 'clickhouse', `${p.title}: the provisioned datasource`);
});

const unavailable = rendererUnavailable() ?? false;
t.test('deploy/k8s/ holds what the chart renders from its defaults, and every object is valid', { skip: unavailable }, async (t) => {
  for (const m of MANIFESTS) {
    const committed = read(m.file);
    t.equal(committed, renderManifest(m), `${m.file} is up to date (npm run render:k8s)`);
    for (const doc of parseAllDocuments(committed)) {
      const obj = doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string } } | null;
      if (obj) t.same(validateObject(obj), [], `${m.file}: ${obj.kind} ${obj.metadata.name}`);
    }
  }
});

t.test('deploy/k8s/sidecar/app.yaml carries the sidecar the chart prints', { skip: unavailable }, async (t) => {
  const app = parseYaml(read('deploy/k8s/sidecar/app.yaml')) as {
    apiVersion: string;
    kind: string;
    spec: { template: { spec: { initContainers: Array<{ name: string }>; containers: Array<{ env: Array<{ name: string; value?: string }> }>; volumes: unknown[] } } };
  };
  t.same(validateObject(app), [], 'a valid Deployment');
  const notes = renderChart(SIDECAR_VALUES, { release: 'otelhouse-sidecar', namespace: 'default' }).notes;
  const snippet = /initContainers \(or containers\) ---\n([\s\S]*?)# --- paste under spec\.template\.spec\.volumes ---\n([\s\S]*?)# --- end ---/.exec(notes)!;
  const pod = app.spec.template.spec;
  t.same(
    pod.initContainers.find((c) => c.name === 'otelhouse'),
    (parseYaml(snippet[1]!) as unknown[])[0],
    "the otelhouse container is the chart's snippet",
  );
  t.same(pod.volumes, parseYaml(snippet[2]!), "its volumes are the chart's");
  const grpcPort = CHART_VALUES.ports['otlp-grpc']!.containerPort;
  t.equal(pod.containers[0]!.env.find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value, `http://localhost:${grpcPort}`, 'the app sends to the sidecar');
});
