import t from 'tap';
import { MAX_VALUE_DEPTH } from '../../../src/pipeline/limits.js';
import type { AnyValue } from '../../../src/pipeline/model.js';
import { batchOf, configIssues, processorHarness, recordsOf, runTable } from '../../support/processors.js';

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
