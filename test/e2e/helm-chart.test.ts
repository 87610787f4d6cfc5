import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/daemon.js';
import { CHART_DIR, coalescedValues, renderChart, rendererUnavailable, valuesSchemaErrors, type K8sObject, type Rendered } from '../support/helm.js';
import { validateFragment, validateObject } from '../support/k8s-validate.js';

/*
 * The chart rendered as `helm template` renders it (test/support/helm-render: Go text/template with
 * sprig and Helm's functions), for every preset and a matrix of values. Every object is checked
 * against the Kubernetes schemas (kubernetes-models, unknown fields included), the values against
 * values.schema.json (ajv), and the ConfigMap's config by the daemon's own config loader.
 */

type Values = Record<string, unknown>;

interface Pod {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    containers: Container[];
    initContainers?: Container[];
    volumes: Array<Record<string, unknown> & { name: string }>;
    securityContext: Record<string, unknown>;
    serviceAccountName: string;
    [key: string]: unknown;
  };
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  ports?: Array<{ name: string; containerPort: number; protocol: string; hostPort?: number }>;
  env: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } }>;
  securityContext: Record<string, unknown> & { capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: unknown;
}

interface Probe {
  httpGet: { path: string; port: number };
}

const ENV = { OTELHOUSE_CLICKHOUSE_USERNAME: 'default', OTELHOUSE_CLICKHOUSE_PASSWORD: 'secret', GATEWAY_TOKEN: 't0ken' };

function find(r: Rendered, kind: string, name?: string): K8sObject | undefined {
  return r.objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

function kinds(r: Rendered): string[] {
  return r.objects.map((o) => o.kind).sort();
}

function podOf(workload: K8sObject): Pod {
  return (workload['spec'] as { template: Pod }).template;
}

function configText(r: Rendered): string {
  return (find(r, 'ConfigMap')!['data'] as Record<string, string>)['config.yaml']!;
}

function config(r: Rendered): Record<string, any> {
  return parseYaml(configText(r)) as Record<string, any>;
}

const DOWNWARD_API = { K8S_NODE_NAME: 'spec.nodeName', K8S_POD_NAME: 'metadata.name', K8S_POD_NAMESPACE: 'metadata.namespace', K8S_POD_UID: 'metadata.uid' };

/** Checks every rendering gets: schema-valid values and objects, a loadable config, the pod basics. */
function checkCommon(t: Test, r: Rendered, values: Values): void {
  t.same(valuesSchemaErrors(r.values), [], 'values pass values.schema.json');
  for (const obj of r.objects) t.same(validateObject(obj), [], `${obj.kind} ${obj.metadata.name} is a valid Kubernetes object`);
  const cm = find(r, 'ConfigMap');
  t.ok(cm, 'a ConfigMap holds the config');
  try {
    loadConfig({ text: configText(r) }, ENV);
    t.pass('the rendered config loads in the daemon');
  } catch (err) {
    t.fail(`the rendered config loads in the daemon: ${(err as Error).message}`);
  }
  const workload = find(r, 'DaemonSet') ?? find(r, 'Deployment');
  if (!workload) return;
  const pod = podOf(workload);
  const c = pod.spec.containers[0]!;
  t.equal(pod.metadata.annotations['checksum/config'], createHash('sha256').update(configText(r).replace(/\n$/, '')).digest('hex'), "checksum/config is the config's sha256");
  for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
    t.same(c[kind]?.httpGet, { path: '/health', port: (values as any).ports?.metrics?.containerPort ?? 8888 }, `${kind} on /health of the telemetry port`);
  }
  t.match(pod.spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, 'pod: non-root, RuntimeDefault seccomp');
  t.match(
    c.securityContext,
    { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } },
    'container: read-only, no escalation, no capabilities',
  );
  for (const [name, fieldPath] of Object.entries(DOWNWARD_API)) {
    t.equal(c.env.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath, fieldPath, `Downward API ${name}`);
  }
  t.same(
    c.volumeMounts.slice(0, 2),
    [
      { name: 'otelhouse-config', mountPath: '/etc/otelhouse', readOnly: true },
      { name: 'otelhouse-tmp', mountPath: '/tmp' },
    ],
    'config and a writable /tmp mounted',
  );
  t.same(c.args?.slice(0, 3), ['run', '--config', '/etc/otelhouse/config.yaml']);
  t.equal((pod.spec.volumes.find((v) => v.name === 'otelhouse-config')!['configMap'] as { name: string }).name, cm!.metadata.name, 'the config volume is the ConfigMap');
}

function render(t: Test, values: Values, options?: { release?: string }): Rendered {
  const r = renderChart(values, options);
  checkCommon(t, r, values);
  return r;
}

function runChartTests(skip: string | false): void {
  t.test('agent preset: a DaemonSet forwarding OTLP to the gateway, queue on a hostPath', { skip }, async (t) => {
    const r = render(t, { mode: 'daemonset' }, { release: 'otelhouse-agent' });
    t.same(kinds(r), ['ConfigMap', 'DaemonSet', 'Service', 'ServiceAccount'], 'objects');
    const ds = find(r, 'DaemonSet')!;
    const pod = podOf(ds);
    const c = pod.spec.containers[0]!;
    t.same(
      c.ports,
      [
        { name: 'otlp-grpc', containerPort: 4317, protocol: 'TCP', hostPort: 4317 },
        { name: 'otlp-http', containerPort: 4318, protocol: 'TCP', hostPort: 4318 },
        { name: 'metrics', containerPort: 8888, protocol: 'TCP' },
      ],
      'OTLP on the node (hostPort), metrics in the pod',
    );
    const data = pod.spec.volumes.find((v) => v.name === 'otelhouse-data')!;
    t.same(data['hostPath'], { path: '/var/lib/otelhouse/observability-otelhouse-agent', type: 'DirectoryOrCreate' }, 'queue on a hostPath per release');
    t.same(
      c.volumeMounts.find((m) => m.name === 'otelhouse-data'),
      { name: 'otelhouse-data', mountPath: '/var/lib/otelhouse' },
    );
    const init = pod.spec.initContainers![0]!;
    t.same(init.command, ['chown', '10001:10001', '/var/lib/otelhouse'], 'an init container hands the hostPath to the container user');
    t.same(init.securityContext.capabilities, { drop: ['ALL'], add: ['CHOWN'] }, '… with CAP_CHOWN alone');
    const cfg = config(r);
    t.same(cfg.service.pipelines.logs, { receivers: ['otlp'], processors: ['batch'], exporters: ['otlp'] }, 'pipeline: otlp → batch → otlp');
    t.match(cfg.exporters.otlp, {
      endpoint: '${env:OTELHOUSE_GATEWAY_ENDPOINT:-dns:///otelhouse-gateway-headless.observability.svc:4317}',
      tls: { insecure: true },
      sending_queue: { storage: '${env:OTELHOUSE_QUEUE_DIR:-/var/lib/otelhouse/queue}/otlp' },
    });
    t.equal(cfg.receivers.otlp.protocols.grpc.endpoint, '${env:OTELHOUSE_OTLP_GRPC_ENDPOINT:-0.0.0.0:4317}');
    const svc = find(r, 'Service')!;
    t.equal((svc['spec'] as any).internalTrafficPolicy, 'Local', 'the Service keeps traffic on the node');
    t.notOk(
      c.env.some((e) => e.name.startsWith('OTELHOUSE_CLICKHOUSE')),
      'no ClickHouse credentials in the agent',
    );
    t.match(r.notes, /Forwarding to the gateway at dns:\/\/\/otelhouse-gateway-headless\.observability\.svc:4317/);
  });

  t.test('gateway preset: a Deployment writing ClickHouse, with PDB, headless Service and credentials from a Secret', { skip }, async (t) => {
    const r = render(t, { mode: 'deployment', clickhouse: { endpoint: 'http://clickhouse.db:8123', password: 'pw' } }, { release: 'otelhouse-gateway' });
    t.same(kinds(r), ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'ServiceAccount'], 'objects');
    const dep = find(r, 'Deployment')!;
    t.equal((dep['spec'] as any).replicas, 2);
    const c = podOf(dep).spec.containers[0]!;
    t.same(
      c.ports?.map((p) => [p.name, p.containerPort, p.hostPort]),
      [
        ['otlp-grpc', 4317, undefined],
        ['otlp-http', 4318, undefined],
        ['metrics', 8888, undefined],
      ],
      'no hostPort outside daemonset mode',
    );
    t.same(c.env.find((e) => e.name === 'OTELHOUSE_CLICKHOUSE_PASSWORD')?.valueFrom?.secretKeyRef, { name: 'otelhouse-gateway-clickhouse', key: 'password' }, 'password from the Secret');
    t.same(find(r, 'Secret')!['stringData'] as object, { username: 'default', password: 'pw' });
    const headless = find(r, 'Service', 'otelhouse-gateway-headless')!;
    t.equal((headless['spec'] as any).clusterIP, 'None', 'a headless Service for round_robin');
    t.same((find(r, 'PodDisruptionBudget')!['spec'] as any).maxUnavailable, 1);
    t.notOk(
      podOf(dep).spec.volumes.some((v) => v.name === 'otelhouse-data'),
      'memory queue by default in deployment mode',
    );
    const cfg = config(r);
    t.same(cfg.service.pipelines.logs, { receivers: ['otlp'], processors: ['templates'], exporters: ['clickhouse'] });
    t.same(cfg.exporters.clickhouse.sending_queue.batch, { min_size: 20000, max_size: 50000, flush_timeout: '500ms' }, 'the exporter batches in its sending queue');
    t.notOk('batch' in cfg.processors, 'no batch processor: requests are answered once their rows are queued');
    t.match(cfg.exporters.clickhouse, { endpoint: '${env:OTELHOUSE_CLICKHOUSE_ENDPOINT:-http://clickhouse.db:8123}', password: '${env:OTELHOUSE_CLICKHOUSE_PASSWORD}', database: 'otel', ttl: '72h' });
    t.notOk('storage' in cfg.exporters.clickhouse.sending_queue, 'no disk queue without persistence');
    t.equal(cfg.receivers.otlp.protocols.grpc.max_recv_msg_size_mib, 16);
  });

  t.test('a gateway with worker processes, as the chart README shows it', { skip }, async (t) => {
    const values = { mode: 'deployment', clickhouse: { endpoint: 'http://clickhouse.db:8123' }, config: { service: { workers: 2 } } };
    const r = render(t, values, { release: 'otelhouse-gateway' });
    t.equal(loadConfig({ text: configText(r) }, ENV).workers, 2, 'the rendered config runs two workers');
  });

  t.test('standalone preset with every port, in both modes', { skip }, async (t) => {
    const ports = { 'syslog-tcp': { enabled: true, hostPort: 514 }, 'syslog-udp': { enabled: true, hostPort: 514 }, 'json-ingest': { enabled: true } };
    for (const mode of ['deployment', 'daemonset']) {
      const r = render(t, { mode, preset: 'standalone', ports, replicaCount: 1, clickhouse: { existingSecret: 'ch-creds', secretKeys: { username: 'user', password: 'pass' } } });
      const workload = find(r, mode === 'daemonset' ? 'DaemonSet' : 'Deployment')!;
      const c = podOf(workload).spec.containers[0]!;
      t.same(
        c.ports?.map((p) => `${p.name}/${p.protocol}:${p.containerPort}${p.hostPort ? `@${p.hostPort}` : ''}`),
        mode === 'daemonset'
          ? ['otlp-grpc/TCP:4317@4317', 'otlp-http/TCP:4318@4318', 'syslog-tcp/TCP:5514@514', 'syslog-udp/UDP:5514@514', 'json-ingest/TCP:3002', 'metrics/TCP:8888']
          : ['otlp-grpc/TCP:4317', 'otlp-http/TCP:4318', 'syslog-tcp/TCP:5514', 'syslog-udp/UDP:5514', 'json-ingest/TCP:3002', 'metrics/TCP:8888'],
        `${mode}: ports`,
      );
      const svc = find(r, 'Service', 'otelhouse')!;
      t.same(
        (svc['spec'] as any).ports.map((p: any) => `${p.name}:${p.port}->${p.targetPort}/${p.protocol}`),
        [
          'otlp-grpc:4317->otlp-grpc/TCP',
          'otlp-http:4318->otlp-http/TCP',
          'syslog-tcp:5514->syslog-tcp/TCP',
          'syslog-udp:5514->syslog-udp/UDP',
          'json-ingest:3002->json-ingest/TCP',
          'metrics:8888->metrics/TCP',
        ],
        `${mode}: Service ports`,
      );
      t.notOk(find(r, 'Secret'), `${mode}: existingSecret: the chart makes no Secret`);
      t.same(c.env.find((e) => e.name === 'OTELHOUSE_CLICKHOUSE_USERNAME')?.valueFrom?.secretKeyRef, { name: 'ch-creds', key: 'user' });
      const cfg = config(r);
      t.same(cfg.service.pipelines.logs.receivers, ['otlp', 'syslog', 'json_ingest'], `${mode}: a receiver per enabled port`);
      t.same(cfg.receivers.syslog, {
        protocol: 'auto',
        tcp: { listen_address: '${env:OTELHOUSE_SYSLOG_TCP_ENDPOINT:-0.0.0.0:5514}' },
        udp: { listen_address: '${env:OTELHOUSE_SYSLOG_UDP_ENDPOINT:-0.0.0.0:5514}' },
      });
      t.same(cfg.exporters.clickhouse.sending_queue.storage !== undefined, mode === 'daemonset', `${mode}: disk queue by default only in daemonset mode`);
    }
  });

  t.test('sidecar mode: only the ConfigMap, and a container snippet that is a valid Container', { skip }, async (t) => {
    const r = render(t, { mode: 'sidecar' });
    t.same(kinds(r), ['ConfigMap'], 'only the ConfigMap');
    t.equal(config(r).receivers.otlp.protocols.grpc.endpoint, '${env:OTELHOUSE_OTLP_GRPC_ENDPOINT:-127.0.0.1:4317}', 'OTLP on localhost only');
    const snippet = /# --- paste under spec\.template\.spec\.initContainers \(or containers\) ---\n([\s\S]*?)# --- paste under spec\.template\.spec\.volumes ---\n([\s\S]*?)# --- end ---/.exec(
      r.notes,
    );
    t.ok(snippet, 'NOTES.txt prints the snippet');
    const containers = parseYaml(snippet![1]!) as Container[];
    const volumes = parseYaml(snippet![2]!) as unknown[];
    t.equal(containers.length, 1);
    t.same(validateFragment('Container', containers[0]), [], 'the snippet is a valid Container');
    for (const v of volumes) t.same(validateFragment('Volume', v), [], 'its volumes are valid Volumes');
    t.equal((containers[0] as any).restartPolicy, 'Always', 'a native sidecar');
    t.same(
      volumes.map((v: any) => Object.keys(v).filter((k) => k !== 'name')[0]),
      ['configMap', 'emptyDir', 'emptyDir'],
      'config, /tmp and the queue on an emptyDir',
    );
    t.same(containers[0]!.volumeMounts.map((m) => m.name).sort(), (volumes as Array<{ name: string }>).map((v) => v.name).sort(), 'every mount has its volume');

    const gw = render(t, { mode: 'sidecar', preset: 'gateway' });
    t.same(kinds(gw), ['ConfigMap', 'Secret'], 'a sidecar writing ClickHouse gets its Secret');
  });

  t.test('a matrix of values renders valid objects', { skip }, async (t) => {
    const matrix: Array<[string, Values, (t: Test, r: Rendered) => void]> = [
      [
        'deployment with a PVC',
        { mode: 'deployment', replicaCount: 1, persistence: { enabled: true, size: '20Gi', storageClass: 'fast' } },
        (t, r) => {
          const pvc = find(r, 'PersistentVolumeClaim')!;
          t.match(pvc['spec'], { storageClassName: 'fast', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } } });
          const dep = find(r, 'Deployment')!;
          t.same((dep['spec'] as any).strategy, { type: 'Recreate' }, 'Recreate: the new pod needs the volume the old one holds');
          t.same(podOf(dep).spec.volumes.find((v) => v.name === 'otelhouse-data')!['persistentVolumeClaim'], { claimName: 'otelhouse' });
          t.equal(config(r).exporters.clickhouse.sending_queue.storage, '${env:OTELHOUSE_QUEUE_DIR:-/var/lib/otelhouse/queue}/clickhouse');
        },
      ],
      [
        'deployment with an existing claim, rolled without surge',
        { mode: 'deployment', replicaCount: 1, persistence: { enabled: true, existingClaim: 'queue' }, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } } },
        (t, r) => {
          t.same((find(r, 'Deployment')!['spec'] as any).strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } }, 'maxSurge: 0 keeps one process on the queue');
          t.notOk(find(r, 'PersistentVolumeClaim'));
          t.same(podOf(find(r, 'Deployment')!).spec.volumes.find((v) => v.name === 'otelhouse-data')!['persistentVolumeClaim'], { claimName: 'queue' });
        },
      ],
      [
        'daemonset without persistence, surging',
        { mode: 'daemonset', persistence: { enabled: false }, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
        (t, r) => {
          t.match((find(r, 'DaemonSet')!['spec'] as any).updateStrategy, { rollingUpdate: { maxSurge: 1 } }, 'maxSurge is fine without a disk queue');
          const pod = podOf(find(r, 'DaemonSet')!);
          t.notOk(pod.spec.initContainers, 'no init container');
          t.notOk(pod.spec.volumes.some((v) => v.name === 'otelhouse-data'));
          t.notOk('storage' in config(r).exporters.otlp.sending_queue);
        },
      ],
      [
        'HPA, ServiceMonitor and a minAvailable PDB',
        {
          mode: 'deployment',
          autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 9, targetMemoryUtilizationPercentage: 80 },
          serviceMonitor: { enabled: true, labels: { release: 'prom' } },
          podDisruptionBudget: { minAvailable: 2 },
        },
        (t, r) => {
          const hpa = find(r, 'HorizontalPodAutoscaler')!;
          t.match(hpa['spec'], { scaleTargetRef: { kind: 'Deployment', name: 'otelhouse' }, minReplicas: 3, maxReplicas: 9 });
          t.same(
            (hpa['spec'] as any).metrics.map((m: any) => m.resource.name),
            ['cpu', 'memory'],
          );
          t.notOk('replicas' in (find(r, 'Deployment')!['spec'] as object), 'the HPA owns the replica count');
          const sm = find(r, 'ServiceMonitor')!;
          t.equal(sm.metadata.labels!['release'], 'prom');
          t.match(sm['spec'], { endpoints: [{ port: 'metrics', path: '/metrics' }], selector: { matchExpressions: [{ key: 'otelhouse.io/headless', operator: 'DoesNotExist' }] } });
          t.same((find(r, 'PodDisruptionBudget')!['spec'] as any).minAvailable, 2);
        },
      ],
      [
        'scheduling, identity and extras',
        {
          mode: 'daemonset',
          image: { repository: 'registry.example/otelhouse', digest: `sha256:${'a'.repeat(64)}` },
          serviceAccount: { create: false, name: 'logs' },
          tolerations: [{ operator: 'Exists' }],
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['apps'] }] }] } } },
          nodeSelector: { 'kubernetes.io/os': 'linux', pool: 'apps' },
          priorityClassName: 'system-node-critical',
          extraEnv: [{ name: 'GATEWAY_TOKEN', valueFrom: { secretKeyRef: { name: 'gw', key: 'token' } } }],
          extraVolumes: [{ name: 'certs', secret: { secretName: 'gw-ca' } }],
          extraVolumeMounts: [{ name: 'certs', mountPath: '/etc/otelhouse-certs', readOnly: true }],
          podAnnotations: { team: 'platform' },
          commonLabels: { 'cost-center': 'obs' },
          hostNetwork: true,
          gateway: { headers: { authorization: 'Bearer ${env:GATEWAY_TOKEN}' } },
        },
        (t, r) => {
          t.notOk(find(r, 'ServiceAccount'), 'no ServiceAccount made');
          const pod = podOf(find(r, 'DaemonSet')!);
          const c = pod.spec.containers[0]!;
          t.equal(c.image, `registry.example/otelhouse@sha256:${'a'.repeat(64)}`, 'image by digest');
          t.equal(pod.spec.serviceAccountName, 'logs');
          t.match(pod.spec, {
            tolerations: [{ operator: 'Exists' }],
            priorityClassName: 'system-node-critical',
            hostNetwork: true,
            dnsPolicy: 'ClusterFirstWithHostNet',
            nodeSelector: { pool: 'apps' },
          });
          t.ok(pod.spec['affinity'], 'affinity');
          t.ok(
            c.env.some((e) => e.name === 'GATEWAY_TOKEN'),
            'extraEnv',
          );
          t.ok(pod.spec.volumes.some((v) => v.name === 'certs') && c.volumeMounts.some((m) => m.name === 'certs'), 'extraVolumes and mounts');
          t.equal(pod.metadata.annotations['team'], 'platform');
          for (const o of r.objects) t.equal(o.metadata.labels?.['cost-center'], 'obs', `${o.kind} carries commonLabels`);
          t.same(config(r).exporters.otlp.headers, { authorization: 'Bearer ${env:GATEWAY_TOKEN}' });
        },
      ],
      [
        'config merged over the default: false replaces true, null removes, lists replace',
        {
          mode: 'deployment',
          config: {
            processors: { templates: null },
            exporters: { clickhouse: { create_schema: false, ttl: '0', sending_queue: { batch: { min_size: 50000, max_size: 100000 } } } },
            service: { pipelines: { logs: { processors: [] } } },
          },
        },
        (t, r) => {
          const cfg = config(r);
          t.notOk('templates' in cfg.processors, 'null removed the templates processor');
          t.same(cfg.exporters.clickhouse.sending_queue.batch, { min_size: 50000, max_size: 100000, flush_timeout: '500ms' }, 'maps merge key by key');
          t.equal(cfg.exporters.clickhouse.create_schema, false, 'false replaced true');
          t.same(cfg.service.pipelines.logs, { receivers: ['otlp'], processors: [], exporters: ['clickhouse'] }, 'the list replaced');
        },
      ],
      [
        'only OTLP/HTTP, no Service, custom ports and names',
        {
          mode: 'deployment',
          fullnameOverride: 'logs-gw',
          service: { enabled: false },
          ports: { 'otlp-grpc': { enabled: false }, 'otlp-http': { containerPort: 14318 }, metrics: { containerPort: 19888 } },
          terminationGracePeriodSeconds: 120,
        },
        (t, r) => {
          t.notOk(find(r, 'Service'), 'no Service');
          t.equal(find(r, 'Deployment')!.metadata.name, 'logs-gw');
          const cfg = config(r);
          t.same(Object.keys(cfg.receivers.otlp.protocols), ['http']);
          t.equal(cfg.receivers.otlp.protocols.http.endpoint, '${env:OTELHOUSE_OTLP_HTTP_ENDPOINT:-0.0.0.0:14318}');
          t.equal(cfg.service.telemetry.metrics.address, '${env:OTELHOUSE_TELEMETRY_ADDRESS:-0.0.0.0:19888}');
          t.equal(cfg.service.shutdown_timeout, '105s', 'the drain fits in the grace period');
        },
      ],
    ];
    for (const [name, values, check] of matrix) {
      await t.test(name, async (t) => check(t, render(t, values)));
    }
  });

  t.test('the object check catches what the API server would drop or refuse', { skip }, async (t) => {
    const dep = find(renderChart({ mode: 'deployment' }), 'Deployment')!;
    const pod = podOf(dep);
    const c = pod.spec.containers[0]! as unknown as Record<string, unknown>;
    c['readinesProbe'] = c['readinessProbe'];
    t.match(validateObject(dep), [/\/spec\/template\/spec\/containers\/0\/readinesProbe: unknown field/], 'a misspelt field');
    delete c['readinesProbe'];
    c['ports'] = [{ name: 'otlp-grpc', containerPort: '4317' }];
    t.match(validateObject(dep).join('\n'), /containerPort must be integer/, 'a wrong type');
    delete c['name'];
    t.match(validateObject(dep).join('\n'), /containers\/0 must have required property name/, 'a missing field');
    t.same(validateObject(pod.metadata.labels as never), ['no schema for undefined/undefined']);
  });

  t.test('the example values files in helm/otelhouse/examples render', { skip }, async (t) => {
    const dir = join(CHART_DIR, 'examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    t.same(files.sort(), ['agent.yaml', 'gateway.yaml', 'sidecar.yaml', 'standalone.yaml']);
    for (const file of files) {
      await t.test(file, async (t) => {
        render(t, parseYaml(readFileSync(join(dir, file), 'utf8')) as Values, { release: `otelhouse-${file.replace('.yaml', '')}` });
      });
    }
  });

  t.test('a config change changes the checksum annotation (the pods roll)', { skip }, async (t) => {
    const checksum = (values: Values) => podOf(find(renderChart(values), 'Deployment')!).metadata.annotations['checksum/config'];
    const base = checksum({ mode: 'deployment' });
    t.equal(checksum({ mode: 'deployment', podAnnotations: { a: 'b' } }), base, 'same config, same checksum');
    t.not(checksum({ mode: 'deployment', config: { processors: { batch: { timeout: '2s' } } } }), base, 'config changed');
    t.not(checksum({ mode: 'deployment', clickhouse: { endpoint: 'http://other:8123' } }), base, 'a value feeding the config changed');
  });

  t.test('wrong values are rejected by values.schema.json', { skip }, async (t) => {
    const cases: Array<[string, Values, RegExp]> = [
      ['mode missing', {}, /\/mode must be equal to one of the allowed values: daemonset, deployment, sidecar/],
      ['unknown mode', { mode: 'statefulset' }, /\/mode must be equal to one of the allowed values/],
      ['unknown preset', { mode: 'daemonset', preset: 'relay' }, /\/preset must be equal to one of the allowed values/],
      ['misspelt top-level key', { mode: 'daemonset', replicas: 3 }, /\/ must NOT have additional properties/],
      ['misspelt nested key', { mode: 'daemonset', persistence: { hostpath: { path: '/x' } } }, /\/persistence must NOT have additional properties/],
      ['port as a string', { mode: 'daemonset', ports: { 'otlp-grpc': { containerPort: '4317' } } }, /\/ports\/otlp-grpc\/containerPort must be integer/],
      ['port out of range', { mode: 'daemonset', ports: { 'otlp-http': { hostPort: 70000 } } }, /\/ports\/otlp-http\/hostPort must be <= 65535/],
      ['persistence.enabled not a boolean', { mode: 'daemonset', persistence: { enabled: 'yes' } }, /\/persistence\/enabled must be boolean,null/],
      ['bad database name', { mode: 'deployment', clickhouse: { database: 'otel-logs' } }, /\/clickhouse\/database must match pattern/],
      ['bad ClickHouse endpoint', { mode: 'deployment', clickhouse: { endpoint: 'clickhouse:9000' } }, /\/clickhouse\/endpoint must match pattern/],
      ['bad pull policy', { mode: 'daemonset', image: { pullPolicy: 'Sometimes' } }, /\/image\/pullPolicy must be equal to one of the allowed values/],
      ['unsupported compression', { mode: 'daemonset', gateway: { compression: 'zstd' } }, /\/gateway\/compression must be equal to one of the allowed values/],
      ['bad ttl', { mode: 'deployment', clickhouse: { ttl: '3 days' } }, /\/clickhouse\/ttl must match pattern/],
      ['extraEnv without a name', { mode: 'daemonset', extraEnv: [{ value: 'x' }] }, /\/extraEnv\/0 must have required property 'name'/],
    ];
    for (const [name, values, expected] of cases) {
      t.match(valuesSchemaErrors(coalescedValues(values)).join('\n'), expected, `${name}: rejected`);
    }
  });

  t.test('the templates refuse combinations that cannot work, saying why', { skip }, async (t) => {
    const cases: Array<[string, Values, RegExp]> = [
      ['no mode', {}, /mode is required: set mode to daemonset, deployment or sidecar/],
      ['a PVC shared by several pods', { mode: 'deployment', persistence: { enabled: true } }, /a disk queue belongs to one process: set replicaCount to 1/],
      ['a PVC with an HPA', { mode: 'deployment', replicaCount: 1, persistence: { enabled: true }, autoscaling: { enabled: true } }, /a disk queue belongs to one process/],
      [
        'agents surging onto one hostPath queue',
        { mode: 'daemonset', updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
        /maxSurge would start a node's new agent while the old one runs/,
      ],
      ['a rolling update of the PVC gateway', { mode: 'deployment', replicaCount: 1, persistence: { enabled: true }, strategy: { type: 'RollingUpdate' } }, /both would use the PVC's disk queue/],
      ['no receiving port', { mode: 'daemonset', ports: { 'otlp-grpc': { enabled: false }, 'otlp-http': { enabled: false } } }, /no receiving port is enabled/],
      ['an HPA without a target', { mode: 'deployment', autoscaling: { enabled: true, targetCPUUtilizationPercentage: null } }, /autoscaling needs a target/],
      ['a ServiceMonitor without the metrics port', { mode: 'deployment', serviceMonitor: { enabled: true }, ports: { metrics: { enabled: false } } }, /serviceMonitor needs ports\.metrics\.enabled/],
    ];
    for (const [name, values, expected] of cases) {
      t.throws(() => renderChart(values), expected, name);
    }
  });
}

runChartTests(rendererUnavailable() ?? false);
