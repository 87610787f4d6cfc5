import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import t, { type Test } from 'tap';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { LogsConsumer } from '../src/pipeline/consumer.js';
import { RejectedBatchError } from '../src/pipeline/errors.js';
import type { AnyValue } from '../src/pipeline/model.js';
import { Sha256Cache } from '../src/processors/shared/sha256-cache.js';
import { refusalFor } from '../src/receivers/refusal.js';
import { startTestDaemon, waitFor } from './support/daemon.js';
import { batchOf, configIssues, processorHarness, recordsOf, view, type RecordSpec, type ResourceSpec } from './support/processors.js';
import { MAX_VALUE_DEPTH } from '../src/pipeline/limits.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Case {
  name: string;
  config: string;
  input: ResourceSpec[];
  /** Expected records (attributes compared whole; other fields only when given). */
  expect: Array<Partial<ReturnType<typeof view>>>;
  /** Expected /stats counts of the processor. */
  stats?: Record<string, number>;
}

async function runTable(t: Test, type: string, cases: Case[]): Promise<void> {
  for (const c of cases) {
    await t.test(`${type}: ${c.name}`, async (t) => {
      const h = await processorHarness(type, c.config);
      const out = await h.run(batchOf(...c.input));
      const got = recordsOf(out).map(view);
      t.equal(got.length, c.expect.length, 'record count');
      c.expect.forEach((want, i) => {
        const g = got[i];
        if (!g) return;
        for (const key of Object.keys(want) as Array<keyof typeof want>) t.same(g[key], want[key], `record ${i} ${key}`);
      });
      if (c.stats) for (const [k, n] of Object.entries(c.stats)) t.equal(h.stats()[k] ?? 0, n, `stats ${k}`);
    });
  }
}

const BASE: Record<string, AnyValue> = { a: 'x', n: 5n, s: '42', f: '1.5', b: 'true', bad: 'abc', url: 'https://shop.example.com/api/orders?id=7', user: 'alice' };
const one = (attributes: Record<string, AnyValue> = BASE, extra: Partial<RecordSpec> = {}): ResourceSpec[] => [
  { resource: { 'service.name': 'checkout' }, records: [{ body: 'hello', attributes: { ...attributes }, ...extra }] },
];

t.test('attributes processor: every action', async (t) => {
  await runTable(t, 'attributes', [
    {
      name: 'insert sets missing keys only',
      config: 'actions:\n  - { key: env, value: prod, action: insert }\n  - { key: a, value: y, action: insert }',
      input: one(),
      expect: [{ attributes: { ...BASE, env: 'prod' } }],
    },
    {
      name: 'update changes present keys only',
      config: 'actions:\n  - { key: a, value: y, action: update }\n  - { key: zz, value: 1, action: update }',
      input: one(),
      expect: [{ attributes: { ...BASE, a: 'y' } }],
    },
    {
      name: 'upsert sets both, with typed values (int, double, bool, map)',
      config:
        'actions:\n  - { key: a, value: 7, action: upsert }\n  - { key: d, value: 2.5, action: upsert }\n  - { key: t, value: true, action: upsert }\n  - { key: m, value: { k: v }, action: upsert }',
      input: one(),
      expect: [{ attributes: { ...BASE, a: 7n, d: 2.5, t: true, m: { k: 'v' } } }],
    },
    {
      name: 'from_attribute copies another attribute; a missing source sets nothing',
      config: 'actions:\n  - { key: copy, from_attribute: user, action: insert }\n  - { key: none, from_attribute: missing, action: upsert }',
      input: one(),
      expect: [{ attributes: { ...BASE, copy: 'alice' } }],
    },
    {
      name: 'delete by key and by pattern on keys',
      config: 'actions:\n  - { key: a, action: delete }\n  - { pattern: "^(s|f)$", action: delete }',
      input: one(),
      expect: [{ attributes: { n: 5n, b: 'true', bad: 'abc', url: BASE.url!, user: 'alice' } }],
    },
    {
      name: 'hash (SHA-256 hex) by key and by pattern; non-strings hashed as their text',
      config: 'actions:\n  - { key: user, action: hash }\n  - { pattern: "^n$", action: hash }',
      input: one(),
      expect: [{ attributes: { ...BASE, user: sha256('alice'), n: sha256('5') } }],
    },
    {
      name: 'extract named groups (Go (?P<name>) syntax) into attributes',
      config: 'actions:\n  - { key: url, pattern: "^(?P<scheme>\\\\w+)://(?P<host>[^/]+)/(?P<path>[^?]*)", action: extract }',
      input: one(),
      expect: [{ attributes: { ...BASE, scheme: 'https', host: 'shop.example.com', path: 'api/orders' } }],
    },
    {
      name: 'convert to int, double, bool and string; a failure keeps the record and the value, and is counted',
      config:
        'actions:\n  - { key: s, action: convert, converted_type: int }\n  - { key: f, action: convert, converted_type: double }\n  - { key: b, action: convert, converted_type: bool }\n  - { key: n, action: convert, converted_type: string }\n  - { key: bad, action: convert, converted_type: int }\n  - { key: absent, action: convert, converted_type: int }',
      input: one(),
      expect: [{ attributes: { ...BASE, s: 42n, f: 1.5, b: true, n: '5', bad: 'abc' } }],
      stats: { convert_failed: 1 },
    },
    {
      name: 'include: only records of a matching service and severity are changed',
      config: 'include:\n  match_type: strict\n  services: [checkout]\n  log_severity_number: { min: WARN }\nactions:\n  - { key: hit, value: true, action: insert }',
      input: [
        {
          resource: { 'service.name': 'checkout' },
          records: [
            { body: 'a', severityNumber: 13 },
            { body: 'b', severityNumber: 9 },
          ],
        },
        { resource: { 'service.name': 'search' }, records: [{ body: 'c', severityNumber: 17 }] },
      ],
      expect: [{ attributes: { hit: true } }, { attributes: {} }, { attributes: {} }],
    },
    {
      name: 'exclude (regexp) on attribute values and bodies: both must match',
      config: 'exclude:\n  match_type: regexp\n  attributes: [{ key: http.route, value: "^/health" }]\n  log_bodies: ["^probe"]\nactions:\n  - { key: hit, value: 1, action: insert }',
      input: [
        {
          records: [
            { body: 'probe ok', attributes: { 'http.route': '/healthz' } },
            { body: 'x', attributes: { 'http.route': '/healthz' } },
            { body: 'probe ok', attributes: { 'http.route': '/api' } },
            { body: 'z' },
          ],
        },
      ],
      expect: [{ attributes: { 'http.route': '/healthz' } }, { attributes: { 'http.route': '/healthz', hit: 1n } }, { attributes: { 'http.route': '/api', hit: 1n } }, { attributes: { hit: 1n } }],
    },
    {
      name: 'include on log_bodies, severity texts and libraries',
      config: 'include:\n  match_type: regexp\n  log_bodies: ["^pay"]\n  log_severity_texts: ["^ERR"]\n  libraries: [{ name: "^billing" }]\nactions:\n  - { key: hit, value: yes, action: insert }',
      input: [
        {
          scope: { name: 'billing.core' },
          records: [
            { body: 'payment failed', severityText: 'ERROR' },
            { body: 'payment ok', severityText: 'INFO' },
            { body: 'refund failed', severityText: 'ERROR' },
          ],
        },
        { scope: { name: 'search' }, records: [{ body: 'payment failed', severityText: 'ERROR' }] },
      ],
      expect: [{ attributes: { hit: 'yes' } }, { attributes: {} }, { attributes: {} }, { attributes: {} }],
    },
  ]);
});

t.test('hash action: digests of values over 256 characters are not cached, so large values are not pinned', async (t) => {
  const cache = new Sha256Cache();
  const long = 'x'.repeat(Sha256Cache.MAX_CACHED_LENGTH + 1);
  t.equal(cache.digest(long), sha256(long));
  t.equal(cache.size, 0, 'a long value is hashed but not kept');
  const short = 'y'.repeat(Sha256Cache.MAX_CACHED_LENGTH);
  t.equal(cache.digest(short), sha256(short));
  t.equal(cache.digest(short), sha256(short), 'a cached digest is the same');
  t.equal(cache.size, 1, 'a short value is kept');
  for (let i = 0; i < Sha256Cache.GENERATION_SIZE * 2 + 10; i++) cache.digest(`user-${i}`);
  t.ok(cache.size <= Sha256Cache.GENERATION_SIZE * 2, 'at most two generations are kept');
  t.equal(cache.digest('user-5'), sha256('user-5'));
});

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

t.test('attributes and resource processors: config errors name the key, through the real loader', async (t) => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['attributes', 'actions:\n  - { key: a, pattern: "(unclosed", action: extract }', 'processors.attributes.actions[0].pattern', /not a valid regular expression/],
    ['attributes', 'actions:\n  - { pattern: "[z-a]", action: delete }', 'processors.attributes.actions[0].pattern', /not a valid regular expression/],
    ['attributes', 'include: { match_type: regexp, services: ["*bad"] }\nactions:\n  - { key: a, action: delete }', 'processors.attributes.include.services[0]', /not a valid regular expression/],
    [
      'attributes',
      'exclude: { match_type: regexp, attributes: [{ key: k, value: "(x" }] }\nactions:\n  - { key: a, action: delete }',
      'processors.attributes.exclude.attributes[0].value',
      /not a valid regular expression/,
    ],
    ['attributes', 'actions:\n  - { value: 1, action: insert }', 'processors.attributes.actions[0].key', /needs a key/],
    ['attributes', 'actions:\n  - { key: a, action: rename }', 'processors.attributes.actions[0].action', /expected one of insert, update/],
    ['attributes', 'actions:\n  - { key: a, pattern: "^x", action: extract }', 'processors.attributes.actions[0].pattern', /named groups/],
    ['attributes', 'actions:\n  - { key: a, action: convert }', 'processors.attributes.actions[0].converted_type', /needs converted_type/],
    ['attributes', 'actions:\n  - { key: a, action: convert, converted_type: float }', 'processors.attributes.actions[0].converted_type', /expected one of int, double, bool, string/],
    ['attributes', 'actions:\n  - { key: a, value: 1, from_attribute: b, action: upsert }', 'processors.attributes.actions[0].value', /exactly one of value and from_attribute/],
    ['attributes', 'actions: []', 'processors.attributes.actions', /at least one action/],
    ['attributes', 'include: { log_severity_number: { min: LOUD } }\nactions:\n  - { key: a, action: delete }', 'processors.attributes.include.log_severity_number.min', /not a severity/],
    ['resource', 'attributes:\n  - { key: a, pattern: "(?P<x", action: extract }', 'processors.resource.attributes[0].pattern', /not a valid regular expression/],
    ['resource', 'include: { log_bodies: [x] }\nattributes:\n  - { key: a, action: delete }', 'processors.resource.include.log_bodies', /unknown key/],
  ];
  for (const [type, yaml, path, message] of cases) {
    const issues = configIssues(type, yaml);
    const issue = issues.find((i) => i.startsWith(`${path}: `));
    t.ok(issue, `${path} is named (got: ${issues.join(' | ')})`);
    t.match(issue ?? '', message);
  }
});

const SEVERITIES: RecordSpec[] = [
  { body: 'debug line', severityNumber: 5, severityText: 'DEBUG' },
  { body: 'GET /healthz 200', severityNumber: 9, severityText: 'INFO', attributes: { 'http.route': '/healthz' } },
  { body: 'GET /api/cart 200', severityNumber: 9, severityText: 'INFO', attributes: { 'http.route': '/api/cart', keep: true } },
  { body: 'slow query', severityNumber: 13, severityText: 'WARN', attributes: { tags: ['db', 'slow'], nested: { level: 'warn' } } },
  { body: 'payment failed', severityNumber: 17, severityText: 'ERROR', attributes: { keep: true } },
  { body: 'no level', severityNumber: 0 },
];
const bodies = (...list: string[]) => list.map((body) => ({ body }));

t.test('filter processor: every rule', async (t) => {
  await runTable(t, 'filter', [
    {
      name: 'min_severity drops below it and keeps records without a severity',
      config: 'min_severity: INFO',
      input: [{ records: SEVERITIES }],
      expect: bodies('GET /healthz 200', 'GET /api/cart 200', 'slow query', 'payment failed', 'no level'),
      stats: { dropped: 1 },
    },
    {
      name: 'legacy include (strict) keeps only matching records',
      config: 'logs:\n  include:\n    match_type: strict\n    record_attributes: [{ key: keep, value: true }]',
      input: [{ records: SEVERITIES }],
      expect: bodies('GET /api/cart 200', 'payment failed'),
      stats: { dropped: 4 },
    },
    {
      name: 'legacy exclude (regexp) on bodies and severity number',
      config: 'logs:\n  exclude:\n    match_type: regexp\n    bodies: ["^GET /health", "^debug"]',
      input: [{ records: SEVERITIES }],
      expect: bodies('GET /api/cart 200', 'slow query', 'payment failed', 'no level'),
    },
    {
      name: 'legacy exclude by resource attributes drops a whole resource',
      config: 'logs:\n  exclude:\n    resource_attributes: [{ key: service.name, value: noisy }]',
      input: [
        { resource: { 'service.name': 'noisy' }, records: bodies('n1', 'n2') },
        { resource: { 'service.name': 'quiet' }, records: bodies('q1') },
      ],
      expect: bodies('q1'),
    },
    {
      name: 'legacy include with severity_number (match_undefined keeps unset severities)',
      config: 'logs:\n  include:\n    severity_number: { min: WARN, match_undefined: true }',
      input: [{ records: SEVERITIES }],
      expect: bodies('slow query', 'payment failed', 'no level'),
    },
    {
      name: 'legacy include with severity_number and severity_texts: both must match',
      config: 'logs:\n  include:\n    severity_number: { min: INFO, match_undefined: true }\n    severity_texts: [WARN, DEBUG]',
      input: [{ records: SEVERITIES }],
      expect: bodies('slow query'),
      stats: { dropped: 5 },
    },
    {
      name: 'OTTL: severity, IsMatch on body, attribute and resource comparisons',
      config:
        'logs:\n  log_record:\n    - severity_number < SEVERITY_NUMBER_INFO and severity_number != SEVERITY_NUMBER_UNSPECIFIED\n    - IsMatch(body, "^GET /health")\n    - resource.attributes["service.name"] == "canary"',
      input: [
        { resource: { 'service.name': 'api' }, records: SEVERITIES },
        { resource: { 'service.name': 'canary' }, records: bodies('c') },
      ],
      expect: bodies('GET /api/cart 200', 'slow query', 'payment failed', 'no level'),
      stats: { dropped: 3 },
    },
    {
      name: 'OTTL: nested index, lists, nil, not/or, functions',
      config:
        'logs:\n  log_record:\n    - attributes["nested"]["level"] == "warn"\n    - not (attributes["keep"] == true) and attributes["http.route"] != nil and HasPrefix(attributes["http.route"], "/health")\n    - Len(body) > 13 and IsString(body) and severity_text == "ERROR"',
      input: [{ records: SEVERITIES }],
      expect: bodies('debug line', 'GET /api/cart 200', 'no level'),
    },
    {
      name: 'OTTL: a condition that matches nothing keeps everything',
      config: 'logs:\n  log_record:\n    - attributes["tags"][1] == "fast"',
      input: [{ records: SEVERITIES.slice(3, 4) }],
      expect: bodies('slow query'),
    },
    {
      name: 'error_mode ignore (the default): a record the condition cannot evaluate on is kept, the error counted',
      config: 'logs:\n  log_record:\n    - body["level"] == "debug"',
      input: [{ records: [{ body: 'plain text' }, { body: { level: 'debug' } as unknown as AnyValue }, { body: { level: 'info' } as unknown as AnyValue }] }],
      expect: [{ body: 'plain text' }, { body: { level: 'info' } }],
      stats: { errors: 1, dropped: 1 },
    },
    {
      name: 'error_mode silent: kept and counted without logging',
      config: 'error_mode: silent\nlogs:\n  log_record:\n    - attributes["tags"]["x"] == 1',
      input: [{ records: SEVERITIES.slice(3, 5) }],
      expect: bodies('slow query', 'payment failed'),
      stats: { errors: 1 },
    },
  ]);
});

t.test('filter processor: error_mode propagate refuses the batch unchanged, as invalid data; a batch filtered empty goes no further', async (t) => {
  const h = await processorHarness('filter', 'error_mode: propagate\nmin_severity: INFO\nlogs:\n  log_record:\n    - body["level"] == "debug"');
  const batch = batchOf(
    {
      resource: { 'service.name': 'a' },
      records: [
        { body: { level: 'info' } as unknown as AnyValue, severityNumber: 5 },
        { body: { level: 'debug' } as unknown as AnyValue, severityNumber: 9 },
      ],
    },
    {
      resource: { 'service.name': 'b' },
      records: [
        { body: 'plain', severityNumber: 9 },
        { body: { level: 'info' } as unknown as AnyValue, severityNumber: 9 },
      ],
    },
  );
  const before = recordsOf(batch).map(view);
  const refusal = await h.run(batch).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.type(refusal, RejectedBatchError, 'a typed error: the same batch would fail again');
  t.match((refusal as Error).message, /condition "body\[\\"level\\"\] == \\"debug\\"" failed: body\["level"\]: a string cannot be indexed by a string key/);
  t.equal(h.out.length, 0, 'nothing went on');
  t.equal(h.stats().errors, 1);
  t.same(recordsOf(batch).map(view), before, 'the refused batch is left whole and in order (min_severity and the condition dropped nothing)');
  t.same(
    batch.resourceLogs.map((rl) => rl.resource.attributes['service.name']),
    ['a', 'b'],
  );
  t.notOk(h.stats().dropped, 'no drops counted for a refused batch');
  t.match(refusalFor(refusal), { httpStatus: 400, grpcCode: GrpcStatus.INVALID_ARGUMENT, retryAfterMs: undefined }, 'receivers answer it as a client error, not back-pressure');

  const all = await processorHarness('filter', 'min_severity: ERROR');
  t.equal(await all.run(batchOf({ records: SEVERITIES.slice(0, 4) })), undefined, 'an all-dropped batch is not passed on');
  t.equal(all.out.length, 0);
  t.match(await all.metrics(), /otelhouse_processor_filter_dropped_log_records_total\{processor="filter",rule="min_severity"\} 4/);
});

t.test('batch processor: a batch the next stage rejects as invalid is dropped and counted, not retried for ever', async (t) => {
  const sent: string[] = [];
  const next: LogsConsumer = {
    consume: async (b) => {
      const bodies = recordsOf(b).map((r) => r.body as string);
      sent.push(bodies.join(','));
      if (bodies.includes('bad')) throw new RejectedBatchError('filter: condition failed');
    },
  };
  const h = await processorHarness('batch', 'send_batch_size: 2\ntimeout: 10ms', {}, next);
  await h.run(batchOf({ records: [{ body: 'bad' }, { body: 'x' }] }));
  await h.run(batchOf({ records: [{ body: 'good' }, { body: 'y' }] }));
  t.ok(await waitFor(async () => sent.includes('good,y'), 20_000, 10), 'the batch behind the rejected one is delivered');
  await h.processor.shutdown(Date.now() + 5000);
  t.same(sent, ['bad,x', 'good,y'], 'the rejected batch was sent once');
  t.equal(h.stats().rejected, 2, 'its records are counted as rejected');
});

t.test('OTLP/HTTP receiver answers a batch the filter refuses (error_mode: propagate) with 400, no retry', async (t) => {
  const daemon = await startTestDaemon(`
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:0" } } }
processors:
  filter:
    error_mode: propagate
    logs: { log_record: ['body["level"] == "debug"'] }
exporters:
  debug: { verbosity: basic }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [filter], exporters: [debug] }
  telemetry: { metrics: { address: "127.0.0.1:0" } }
`);
  t.teardown(() => daemon.stop());
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords: [{ body: { stringValue: 'plain' } }] }] }] }),
  });
  t.equal(res.status, 400, 'a client error: resending the same data cannot succeed');
  t.equal(res.headers.get('retry-after'), null, 'no Retry-After');
  t.match(await res.text(), /log records rejected: filter: condition/);
});

t.test('filter processor: config errors name the key', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['logs:\n  log_record:\n    - severity_number <', 'processors.filter.logs.log_record[0]', /expected a value, found the end at column 18/],
    ['logs:\n  log_record:\n    - IsMatch(body, "(")', 'processors.filter.logs.log_record[0]', /IsMatch: not a valid regular expression.*at column 15/],
    ['logs:\n  log_record:\n    - Contains(body, "x")', 'processors.filter.logs.log_record[0]', /unknown function Contains/],
    ['logs:\n  log_record:\n    - span.name == "x"', 'processors.filter.logs.log_record[0]', /unknown path "span.name"/],
    ['logs:\n  log_record:\n    - body == "x" "y"', 'processors.filter.logs.log_record[0]', /unexpected "y"/],
    ['logs:\n  exclude: { match_type: regexp, bodies: ["+x"] }', 'processors.filter.logs.exclude.bodies[0]', /not a valid regular expression/],
    ['logs:\n  include: { match_type: regexp, record_attributes: [{ key: a, value: 5 }] }', 'processors.filter.logs.include.record_attributes[0].value', /must be a regular expression/],
    ['min_severity: LOUD', 'processors.filter.min_severity', /not a severity/],
    ['error_mode: fail', 'processors.filter.error_mode', /expected one of ignore, silent, propagate/],
  ];
  for (const [yaml, path, message] of cases) {
    const issue = configIssues('filter', yaml).find((i) => i.startsWith(`${path}: `));
    t.ok(issue, `${path} is named`);
    t.match(issue ?? '', message);
  }
});

const MARCH_5 = BigInt(Date.UTC(2024, 2, 5, 14, 22, 1)) * 1_000_000n;

t.test('parse processor: JSON, logfmt, severity and timestamps', async (t) => {
  const json = '{"level":"warn","msg":"disk full","disk":{"name":"sda1","usage":{"pct":97.5}},"tags":["a","b"],"n":3,"ok":true,"none":null}';
  await runTable(t, 'parse', [
    {
      name: 'JSON object bodies flattened into attributes, deeper levels kept as JSON; severity from the level field',
      config: 'json: { max_depth: 2 }',
      input: [{ records: [{ body: json }] }],
      expect: [
        {
          body: json,
          attributes: { level: 'warn', msg: 'disk full', 'disk.name': 'sda1', 'disk.usage': '{"pct":97.5}', tags: ['a', 'b'], n: 3n, ok: true, none: null },
          severityNumber: 13,
          severityText: 'warn',
        },
      ],
      stats: { json: 1, too_deep: 1, severity: 1 },
    },
    {
      name: 'body_field: a parsed field becomes the body',
      config: 'body_field: msg',
      input: [{ records: [{ body: '{"msg":"user signed in","user":{"id":7},"level":30}' }] }],
      expect: [{ body: 'user signed in', attributes: { 'user.id': 7n, level: 30n }, severityNumber: 9, severityText: '30' }],
    },
    {
      name: 'invalid and oversized JSON are left as they are, and counted',
      config: 'json: { max_size: 40 }',
      input: [{ records: [{ body: '{"a": 1, "b": }' }, { body: `{"long": "${'x'.repeat(50)}"}` }] }],
      expect: [{ attributes: {} }, { attributes: {} }],
      stats: { invalid_json: 1, too_large: 1 },
    },
    {
      name: 'logfmt bodies, quoted values with escapes; existing attributes are kept',
      config: '{}',
      input: [{ records: [{ body: 'level=error msg="connection \\"refused\\"" host=db-1 retry=3 empty=', attributes: { host: 'set-by-sdk' } }] }],
      expect: [{ attributes: { host: 'set-by-sdk', level: 'error', msg: 'connection "refused"', retry: '3', empty: '' }, severityNumber: 17, severityText: 'error' }],
      stats: { logfmt: 1 },
    },
    {
      name: 'overwrite: parsed fields replace existing attributes',
      config: 'overwrite: true',
      input: [{ records: [{ body: 'host=db-2 port=5432', attributes: { host: 'old' } }] }],
      expect: [{ attributes: { host: 'db-2', port: '5432' } }],
    },
    {
      name: 'strict logfmt leaves prose alone; non-strict takes the pairs out of it',
      config: 'logfmt: { strict: false }',
      input: [{ records: [{ body: 'GET /api/orders completed status=200 duration_ms=12' }, { body: 'nothing to see here' }] }],
      expect: [{ attributes: { status: '200', duration_ms: '12' } }, { attributes: {} }],
    },
    {
      name: 'strict logfmt (default) leaves prose alone',
      config: '{}',
      input: [{ records: [{ body: 'GET /api/orders completed status=200' }] }],
      expect: [{ attributes: {}, severityNumber: 0 }],
    },
    {
      name: 'severity inferred from text when unset; a set severity is kept; no guess from ordinary words',
      config: '{}',
      input: [
        {
          records: [
            { body: '[WARN] disk almost full' },
            { body: '2024-01-01 12:00:00.123 ERROR [main] something broke' },
            { body: 'Error: ENOENT: no such file' },
            { body: 'request done', severityText: 'warning' },
            { body: 'FATAL error here', severityNumber: 9, severityText: 'INFO' },
            { body: 'info about the error page was shown' },
            { body: 'ts=1 lvl=debug msg=x' },
          ],
        },
      ],
      expect: [
        { severityNumber: 13, severityText: 'WARN' },
        { severityNumber: 17, severityText: 'ERROR' },
        { severityNumber: 17, severityText: 'Error' },
        { severityNumber: 13, severityText: 'warning' },
        { severityNumber: 9, severityText: 'INFO' },
        { severityNumber: 0, severityText: '' },
        { severityNumber: 5, severityText: 'debug' },
      ],
    },
    {
      name: 'timestamp from the body with a strptime layout (milliseconds after a comma)',
      config: 'timestamp: { layout: "%Y-%m-%d %H:%M:%S,%L" }',
      input: [{ records: [{ body: '2024-03-05 14:22:01,123 INFO started' }, { body: 'no time here' }] }],
      expect: [{ timeUnixNano: MARCH_5 + 123_000_000n }, { timeUnixNano: 0n }],
      stats: { timestamp: 1 },
    },
    {
      name: 'timestamp with an offset and nanoseconds',
      config: 'timestamp: { layout: "%Y-%m-%dT%H:%M:%S.%f%z" }',
      input: [{ records: [{ body: 'at 2024-03-05T16:22:01.000000042+02:00 done' }] }],
      expect: [{ timeUnixNano: MARCH_5 + 42n }],
    },
    {
      name: 'timestamp in a location (Europe/Paris, UTC+1 in March) with a Go layout',
      config: 'timestamp: { layout: "2006-01-02 15:04:05.000", layout_type: gotime, location: Europe/Paris }',
      input: [{ records: [{ body: '2024-03-05 15:22:01.500 app started' }] }],
      expect: [{ timeUnixNano: MARCH_5 + 500_000_000n }],
    },
    {
      name: 'an impossible date is counted and the time left as it was',
      config: 'timestamp: { layout: "%Y-%m-%d %H:%M:%S" }',
      input: [{ records: [{ body: '2024-02-30 10:00:00 odd', timeUnixNano: 7n }] }],
      expect: [{ timeUnixNano: 7n }],
      stats: { timestamp_invalid: 1 },
    },
    {
      name: 'epoch milliseconds from a parsed field',
      config: 'timestamp: { layout: ms, layout_type: epoch, field: ts }',
      input: [{ records: [{ body: '{"ts": 1700000000250, "msg": "x"}' }] }],
      expect: [{ timeUnixNano: 1_700_000_000_250_000_000n }],
    },
  ]);
});

t.test('parse processor: deeply nested JSON costs no neighbour; deep parts are kept as JSON text', async (t) => {
  const h = await processorHarness('parse', '{}');
  const n = 20_000;
  const lists = `{"a":${'['.repeat(n)}${']'.repeat(n)},"k":"v"}`;
  t.ok(lists.length < 65_536, 'under the default max_size, so it is parsed');
  const objects = `{"a":${'{"b":'.repeat(5000)}1${'}'.repeat(5000)}}`;
  const out = recordsOf(await h.run(batchOf({ records: [{ body: 'level=info msg=before' }, { body: lists }, { body: objects }, { body: 'level=warn msg=after' }] })));
  t.equal(out.length, 4, 'the batch went on whole');
  t.same([out[0]!.attributes.msg, out[3]!.attributes.msg, out[3]!.severityNumber], ['before', 'after', 13], 'the neighbours were parsed');

  let a = out[1]!.attributes.a as AnyValue;
  let levels = 0;
  while (Array.isArray(a)) {
    t.equal(a.length, 1);
    a = a[0]!;
    levels++;
  }
  t.equal(levels, MAX_VALUE_DEPTH - 1, `lists are built down to the ${MAX_VALUE_DEPTH} levels an OTLP value may nest`);
  const rest = n - levels;
  t.equal(a, `${'['.repeat(rest)}${']'.repeat(rest)}`, 'the deeper lists are kept as their JSON text, whole');
  t.equal(out[1]!.attributes.k, 'v', 'the rest of the object is parsed');

  const deep = out[2]!.attributes['a.b.b'];
  t.equal(deep, objects.slice('{"a":{"b":{"b":'.length, -3), 'objects past max_depth are kept as their JSON text, however deep');
  t.same(h.stats(), { logfmt: 2, json: 2, too_deep: 1, severity: 2 }, 'counted as parsed (and too_deep), no error');
});

t.test('parse processor: a record the parser throws on is passed on and counted; its neighbours are parsed', async (t) => {
  const h = await processorHarness('parse', '{}');
  const batch = batchOf({ records: [{ body: 'level=info msg=one' }, { body: 'hello' }, { body: 'level=error msg=three' }] });
  const odd = recordsOf(batch)[1]!;
  Object.defineProperty(odd.attributes, 'level', {
    enumerable: true,
    get: () => {
      throw new Error('unreadable attribute');
    },
  });
  const out = recordsOf(await h.run(batch));
  t.equal(out.length, 3);
  t.same(
    out.map((r) => r.severityNumber),
    [9, 0, 17],
  );
  t.equal(h.stats().error, 1, 'counted under result="error"');
  t.match(await h.metrics(), /otelhouse_processor_parse_log_records_total\{processor="parse",result="error"\} 1/);
});

t.test('severity words: names of Object.prototype members are not levels', async (t) => {
  const h = await processorHarness('parse', '{}');
  const out = await h.run(
    batchOf({
      records: [
        { body: 'level=toString msg=x' },
        { body: 'level=constructor msg=y' },
        { body: '{"level":"__proto__","msg":"z"}' },
        { body: 'hello', severityText: 'hasOwnProperty' },
        { body: 'level=warn msg=ok' },
      ],
    }),
  );
  t.same(
    recordsOf(out).map((r) => [r.severityNumber, r.severityText]),
    [
      [0, ''],
      [0, ''],
      [0, ''],
      [0, 'hasOwnProperty'],
      [13, 'warn'],
    ],
    'only the real level word sets a severity',
  );
  t.equal(h.stats().severity, 1, 'only the real level is counted as inferred');
  for (const word of ['constructor', 'toString', '__proto__']) {
    t.match(configIssues('filter', `min_severity: ${word}`).join('\n'), /processors\.filter\.min_severity: not a severity/, `min_severity: ${word} is a config error`);
    t.match(configIssues('filter', `logs:\n  log_record:\n    - severity_number < ${word}`).join('\n'), new RegExp(`unknown path "${word}"`), `OTTL ${word} is not a severity enum`);
  }
});

t.test('parse processor: config errors name the key', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['timestamp: { layout: "%Y-%Q" }', 'processors.parse.timestamp.layout', /unsupported directive %Q/],
    ['timestamp: { layout: ms, layout_type: epoch }', 'processors.parse.timestamp.field', /name the attribute/],
    ['timestamp: { layout: "%H:%M", location: Mars/Olympus }', 'processors.parse.timestamp.location', /not an IANA time zone/],
    ['json: { max_depth: 0 }', 'processors.parse.json.max_depth', /./],
    ['json: { max_depth: 31 }', 'processors.parse.json.max_depth', /at most 30, the model's nesting limit/],
  ];
  for (const [yaml, path, message] of cases) {
    const issue = configIssues('parse', yaml).find((i) => i.startsWith(`${path}: `));
    t.ok(issue, `${path} is named`);
    t.match(issue ?? '', message);
  }
});

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
