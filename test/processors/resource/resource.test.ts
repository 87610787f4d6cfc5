import t from 'tap';
import { batchOf, configIssues, processorHarness, sha256 } from '../../support/processors.js';

t.test('resource processor: actions on resource attributes, include by service', async (t) => {
  const h = await processorHarness(
    'resource',
    'include: { services: [checkout, search] }\nattributes:\n  - { key: cloud.region, value: eu-west-1, action: insert }\n  - { key: k8s.pod.uid, action: delete }\n  - { key: host.name, action: hash }\n  - { key: process.pid, action: convert, converted_type: int }\n  - { key: deployment.environment.name, value: prod, action: upsert }',
  );
  const out = await h.run(
    batchOf(
      { resource: { 'service.name': 'checkout', 'k8s.pod.uid': 'u-1', 'host.name': 'node-1', 'process.pid': '4242' }, records: [{ body: 'a' }] },
      { resource: { 'service.name': 'search', 'cloud.region': 'us-east-1', 'process.pid': 'n/a' }, records: [{ body: 'b' }] },
      { resource: { 'service.name': 'other', 'k8s.pod.uid': 'u-3' }, records: [{ body: 'c' }] },
    ),
  );
  const resources = out!.resourceLogs.map((rl) => ({ ...rl.resource.attributes }));
  t.same(resources[0], { 'service.name': 'checkout', 'host.name': sha256('node-1'), 'process.pid': 4242n, 'cloud.region': 'eu-west-1', 'deployment.environment.name': 'prod' });
  t.same(resources[1], { 'service.name': 'search', 'cloud.region': 'us-east-1', 'process.pid': 'n/a', 'deployment.environment.name': 'prod' });
  t.same(resources[2], { 'service.name': 'other', 'k8s.pod.uid': 'u-3' }, 'a resource outside include is untouched');
  t.equal(h.stats().convert_failed, 1, 'the failed convert is counted');
  t.match(await h.metrics(), /otelhouse_processor_convert_failed_total\{processor="resource",key="process.pid"\} 1/);
});

t.test('resource processor: config errors name the key, through the real loader', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['attributes:\n  - { key: a, pattern: "(?P<x", action: extract }', 'processors.resource.attributes[0].pattern', /not a valid regular expression/],
    ['include: { log_bodies: [x] }\nattributes:\n  - { key: a, action: delete }', 'processors.resource.include.log_bodies', /unknown key/],
  ];
  for (const [yaml, path, message] of cases) {
    const issues = configIssues('resource', yaml);
    const issue = issues.find((i) => i.startsWith(`${path}: `));
    t.ok(issue, `${path} is named (got: ${issues.join(' | ')})`);
    t.match(issue ?? '', message);
  }
});
