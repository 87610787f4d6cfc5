import t from 'tap';
import type { AnyValue } from '../../../src/pipeline/model.js';
import { configIssues, runTable, sha256, type RecordSpec, type ResourceSpec } from '../../support/processors.js';

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

t.test('attributes processor: config errors name the key, through the real loader', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['actions:\n  - { key: a, pattern: "(unclosed", action: extract }', 'processors.attributes.actions[0].pattern', /not a valid regular expression/],
    ['actions:\n  - { pattern: "[z-a]", action: delete }', 'processors.attributes.actions[0].pattern', /not a valid regular expression/],
    ['include: { match_type: regexp, services: ["*bad"] }\nactions:\n  - { key: a, action: delete }', 'processors.attributes.include.services[0]', /not a valid regular expression/],
    [
      'exclude: { match_type: regexp, attributes: [{ key: k, value: "(x" }] }\nactions:\n  - { key: a, action: delete }',
      'processors.attributes.exclude.attributes[0].value',
      /not a valid regular expression/,
    ],
    ['actions:\n  - { value: 1, action: insert }', 'processors.attributes.actions[0].key', /needs a key/],
    ['actions:\n  - { key: a, action: rename }', 'processors.attributes.actions[0].action', /expected one of insert, update/],
    ['actions:\n  - { key: a, pattern: "^x", action: extract }', 'processors.attributes.actions[0].pattern', /named groups/],
    ['actions:\n  - { key: a, action: convert }', 'processors.attributes.actions[0].converted_type', /needs converted_type/],
    ['actions:\n  - { key: a, action: convert, converted_type: float }', 'processors.attributes.actions[0].converted_type', /expected one of int, double, bool, string/],
    ['actions:\n  - { key: a, value: 1, from_attribute: b, action: upsert }', 'processors.attributes.actions[0].value', /exactly one of value and from_attribute/],
    ['actions: []', 'processors.attributes.actions', /at least one action/],
    ['include: { log_severity_number: { min: LOUD } }\nactions:\n  - { key: a, action: delete }', 'processors.attributes.include.log_severity_number.min', /not a severity/],
  ];
  for (const [yaml, path, message] of cases) {
    const issues = configIssues('attributes', yaml);
    const issue = issues.find((i) => i.startsWith(`${path}: `));
    t.ok(issue, `${path} is named (got: ${issues.join(' | ')})`);
    t.match(issue ?? '', message);
  }
});
