import { hostname } from 'node:os';
import t from 'tap';
import { batchOf, configIssues, processorHarness } from '../../support/processors.js';

t.test('resourcedetection: env, system and k8s, override and first-detector-wins', async (t) => {
  const saved = { ...process.env };
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  Object.assign(process.env, {
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=pay%20ments,service.name=from-attrs,broken',
    OTEL_SERVICE_NAME: 'checkout',
    K8S_NODE_NAME: 'node-7',
    K8S_POD_NAME: 'otelhouse-abcde',
    K8S_POD_NAMESPACE: 'observability',
    K8S_POD_UID: '1f2e3d',
  });
  const input = () => batchOf({ resource: { 'service.name': 'app-set', 'host.name': 'app-host' }, records: [{ body: 'x' }] }, { records: [{ body: 'y' }] });

  const override = await processorHarness('resourcedetection', 'detectors: [env, system, k8s]');
  const [first, second] = (await override.run(input()))!.resourceLogs.map((rl) => ({ ...rl.resource.attributes }));
  const detected = {
    'deployment.environment.name': 'prod',
    team: 'pay ments',
    'service.name': 'checkout',
    'host.name': hostname(),
    'os.type': 'linux',
    'k8s.node.name': 'node-7',
    'k8s.pod.name': 'otelhouse-abcde',
    'k8s.namespace.name': 'observability',
    'k8s.pod.uid': '1f2e3d',
  };
  t.same(first, detected, 'override: true replaces what the data had (OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES)');
  t.same(second, detected);

  const keep = await processorHarness(
    'resourcedetection',
    'detectors: [k8s, system]\noverride: false\nk8s:\n  resource_attributes: { k8s.pod.uid: { enabled: false } }\nsystem:\n  resource_attributes: { host.arch: { enabled: true } }',
  );
  const [kept] = (await keep.run(input()))!.resourceLogs.map((rl) => ({ ...rl.resource.attributes }));
  t.same(
    kept,
    {
      'service.name': 'app-set',
      'host.name': 'app-host',
      'k8s.node.name': 'node-7',
      'k8s.pod.name': 'otelhouse-abcde',
      'k8s.namespace.name': 'observability',
      'os.type': 'linux',
      'host.arch': process.arch === 'x64' ? 'amd64' : process.arch,
    },
    'override: false only fills in; disabled attributes are left out, enabled ones added',
  );

  process.env.OTEL_RESOURCE_ATTRIBUTES = 'host.name=from-env';
  const order = await processorHarness('resourcedetection', 'detectors: [env, system]');
  const [ordered] = (await order.run(input()))!.resourceLogs.map((rl) => ({ ...rl.resource.attributes }));
  t.equal(ordered!['host.name'], 'from-env', 'the first detector to find an attribute wins');

  t.match(configIssues('resourcedetection', 'detectors: [env, gcp]').join('\n'), /processors\.resourcedetection\.detectors\[1\]: expected one of env, system, k8s/);
});
