import t from 'tap';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { RejectedBatchError } from '../../../src/pipeline/errors.js';
import type { AnyValue } from '../../../src/pipeline/model.js';
import { refusalFor } from '../../../src/receivers/refusal.js';
import { startTestDaemon } from '../../support/daemon.js';
import { batchOf, configIssues, processorHarness, recordsOf, runTable, view, type RecordSpec } from '../../support/processors.js';

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
