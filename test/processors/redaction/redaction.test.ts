import { createHash, createHmac } from 'node:crypto';
import t from 'tap';
import type { AnyValue } from '../../../src/pipeline/model.js';
import { cleanLines, plantedLines } from '../../fixtures/redaction-corpus.js';
import { batchOf, configIssues, hasFastProperties, processorHarness, recordsOf, view, type RecordSpec } from '../../support/processors.js';

async function redact(config: string, records: RecordSpec[]) {
  const h = await processorHarness('redaction', config);
  const out = await h.run(batchOf({ records }));
  return { h, records: recordsOf(out).map(view) };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

t.test('redaction: each built-in detector masks its secret and only its secret', async (t) => {
  const cases: Array<[detector: string, input: string, expected: string]> = [
    ['email', 'receipt sent to jane.doe+shop@mail.example.org today', 'receipt sent to **** today'],
    ['ipv4', 'connection from 203.0.113.7:51522 accepted', 'connection from ****:51522 accepted'],
    ['ipv6', 'client [2001:db8:85a3::8a2e:370:7334] connected', 'client [****] connected'],
    ['credit_card', 'charging card 4111-1111-1111-1111 now', 'charging card **** now'],
    ['credit_card', 'amex 3782 822463 10005 ok', 'amex **** ok'],
    ['credit_card', 'paid 4111111111111111 12/25', 'paid **** 12/25'],
    ['credit_card', 'charge 100 4111111111111111', 'charge 100 ****'],
    ['credit_card', 'card 4111 1111 1111 1111 10 USD', 'card **** 10 USD'],
    ['credit_card', 'items 3 4111-1111-1111-1111', 'items 3 ****'],
    ['credit_card', `totals ${'1000 '.repeat(3000)}4111111111111111`, `totals ${'1000 '.repeat(3000)}****`],
    ['jwt', 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c end', 'jwt **** end'],
    ['bearer_token', 'sent header bearer abcDEF123456789.xyz', 'sent header bearer ****'],
    ['aws_key', 'key AKIAIOSFODNN7EXAMPLE in use', 'key **** in use'],
    ['password', 'user=bob password=hunter2 ok=1', 'user=bob password=**** ok=1'],
    ['password', '{"user":"bob","client_secret":"s3 cr\\"et","n":1}', '{"user":"bob","client_secret":"****","n":1}'],
    ['password', 'dsn postgres://app:Tr0ub4dor@db:5432/x', 'dsn postgres://app:****@db:5432/x'],
    ['password', 'config password: hunter2 loaded', 'config password: **** loaded'],
    ['password', 'client_secret: aBcDeFgHiJkL', 'client_secret: ****'],
    ['password', 'Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic ****'],
  ];
  for (const [detector, input, expected] of cases) {
    const { h, records } = await redact('{}', [{ body: input }]);
    t.equal(records[0]!.body, expected, `${detector}: ${input.length > 100 ? `${input.slice(0, 40)}… (${input.length} characters)` : input}`);
    t.equal(h.stats()[`masked_${detector}`], 1, `${detector} counted once`);
  }
  const near = [
    'card 4111 1111 1111 1112 fails the Luhn check',
    'order 9123456789012345 has no card issuer prefix',
    'version 1.2.3 and build 2024.03.05',
    'listening on 0.0.0.0:8080 and 127.0.0.1:9090 and [::1]:80',
    'at 12:30:45 the job ran; mac 00:1a:2b:3c:4d:5e',
    'password reset email sent to user 42',
    'max_tokens=100 passes=3 keys=12',
    'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    'Invalid password: authentication failed for user bob',
    'level=info msg="token: refreshed ok"',
    '{"user":"bob","password":null}',
    'counters 512 730 148 903 221 640 357',
  ];
  const twoCards = await redact('{}', [{ body: 'cards 4111111111111111 5500 0000 0000 0004 on file' }]);
  t.equal(twoCards.records[0]!.body, 'cards **** **** on file', 'two cards in one run of digits');
  t.equal(twoCards.h.stats().masked_credit_card, 2);
  const { records } = await redact(
    '{}',
    near.map((body) => ({ body })),
  );
  t.same(
    records.map((r) => r.body),
    near,
    'near-misses are left alone',
  );
});

t.test('redaction: keys, user regexes, allowed values, hashing, deletion, structured values, summaries', async (t) => {
  const attrs = {
    'user.email': 'ann@example.com',
    'db.password': 'pw-123',
    note: 'call 203.0.113.9',
    'x-request-id': 'EMP-123456',
    safe: 'ann@example.com',
    count: 4111111111111111n,
    nested: { api_key: 'k-1', list: ['me@example.com', 7n] } as unknown as AnyValue,
  };

  let r = await redact('allow_keys: [safe]\nblock_keys: ["^x-request"]', [{ body: 'hi', attributes: attrs }]);
  t.same(r.records[0]!.attributes, {
    'user.email': '****',
    'db.password': '****',
    note: 'call ****',
    'x-request-id': '****',
    safe: 'ann@example.com',
    count: '****',
    nested: { api_key: '****', list: ['****', 7n] },
  });
  t.same(
    Object.fromEntries(Object.entries(r.h.stats()).filter(([k]) => k.startsWith('masked_'))),
    { masked_email: 2, masked_password: 2, masked_ipv4: 1, masked_block_keys: 1, masked_credit_card: 1 },
    'counts per detector',
  );
  const metrics = await r.h.metrics();
  t.match(metrics, /otelhouse_processor_redaction_masked_total\{processor="redaction",detector="email"\} 2/);
  t.notMatch(metrics, /ann@example\.com|pw-123|203\.0\.113/, 'metrics never carry the values');

  r = await redact('ignored_keys: [safe]\nblocked_key_patterns: ["^x-request"]\ndetectors: [email]', [
    { body: 'mail ann@example.com from 203.0.113.9', attributes: { safe: 'ann@example.com', 'x-request-id': 'r1', 'db.password': 'pw' } },
  ]);
  t.equal(r.records[0]!.body, 'mail **** from 203.0.113.9', 'only the detectors listed run');
  t.same(r.records[0]!.attributes, { safe: 'ann@example.com', 'x-request-id': '****', 'db.password': 'pw' }, "the OTel Collector's key names work too");

  r = await redact('blocked_values: ["EMP-\\\\d{6}", { name: iban, regex: "\\\\bDE\\\\d{20}\\\\b" }]\nallowed_values: ["@example\\\\.com$"]', [
    { body: 'employee EMP-123456 iban DE89370400440532013000 mail ann@example.com other bob@evil.io' },
  ]);
  t.equal(r.records[0]!.body, 'employee **** iban **** mail ann@example.com other ****', 'user regexes mask; allowed values are kept');
  t.equal(r.h.stats().masked_iban, 1, 'a named user regex is counted under its name');
  t.equal(r.h.stats().masked_blocked_values, 1);

  r = await redact('hash_function: sha256\ndetectors: [email]', [{ body: 'to ann@example.com' }]);
  t.equal(r.records[0]!.body, `to ${sha256('ann@example.com')}`, 'hash_function replaces with the hex digest');
  r = await redact('hash_function: hmac-sha256\nhmac_key: s3cret\ndetectors: [email]', [{ body: 'to ann@example.com' }]);
  t.equal(r.records[0]!.body, `to ${createHmac('sha256', 's3cret').update('ann@example.com').digest('hex')}`);
  r = await redact('replacement: "[{detector}]"', [{ body: 'to ann@example.com from 203.0.113.9' }]);
  t.equal(r.records[0]!.body, 'to [email] from [ipv4]');

  r = await redact('allowed_keys: [http.route, user.email]', [{ body: 'x', attributes: { 'http.route': '/a', 'user.email': 'ann@example.com', secret_sauce: 'x', other: 1n } }]);
  t.same(r.records[0]!.attributes, { 'http.route': '/a', 'user.email': '****' }, 'allowed_keys removes the rest and still masks the allowed');
  t.equal(r.h.stats().deleted_attributes, 2);
  t.ok(hasFastProperties(recordsOf(r.h.out[0])[0]!.attributes), 'the attribute map stays in fast mode (a copy, not delete)');

  r = await redact('body: false', [{ body: 'ann@example.com', attributes: { e: 'ann@example.com' } }]);
  t.same([r.records[0]!.body, r.records[0]!.attributes.e], ['ann@example.com', '****'], 'body: false leaves the body alone');

  r = await redact('{}', [{ body: { user: { email: 'ann@example.com', password: 'x' }, tags: ['10.1.2.3'] } as unknown as AnyValue }]);
  t.same(r.records[0]!.body, { user: { email: '****', password: '****' }, tags: ['****'] }, 'structured bodies are walked');

  r = await redact('summary: debug\nallowed_keys: [e, p]', [{ body: 'x', attributes: { e: 'ann@example.com', p: 'fine', gone: 'y' } }]);
  t.same(r.records[0]!.attributes, { e: '****', p: 'fine', 'redaction.masked.count': 1n, 'redaction.redacted.count': 1n, 'redaction.masked.keys': 'e', 'redaction.redacted.keys': 'gone' });
});

t.test('redaction: config errors name the key', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['blocked_values: ["(abc"]', 'processors.redaction.blocked_values[0]', /not a valid regular expression/],
    ['blocked_values: [{ name: ssn, regex: "(x" }]', 'processors.redaction.blocked_values[0].regex', /not a valid regular expression/],
    ['block_keys: ["[x"]', 'processors.redaction.block_keys[0]', /not a valid regular expression/],
    ['allowed_values: ["*"]', 'processors.redaction.allowed_values[0]', /not a valid regular expression/],
    ['detectors: [email, ssn]', 'processors.redaction.detectors[1]', /expected one of/],
    ['hash_function: hmac-sha256', 'processors.redaction.hmac_key', /needs hmac_key/],
    ['allow_all_keys: false', 'processors.redaction.allowed_keys', /list them in allowed_keys/],
  ];
  for (const [yaml, path, message] of cases) {
    const issue = configIssues('redaction', yaml).find((i) => i.startsWith(`${path}: `));
    t.ok(issue, `${path} is named`);
    t.match(issue ?? '', message);
  }
});

t.test('redaction corpus: every planted secret masked, false positives on clean lines at most 2 %', async (t) => {
  const planted = plantedLines(300);
  const clean = cleanLines(410);
  const h = await processorHarness('redaction', '{}');
  const out = recordsOf(await h.run(batchOf({ records: [...planted.map((p) => ({ body: p.line })), ...clean.map((body) => ({ body }))] })));
  let leaked = 0;
  planted.forEach((p, i) => {
    const body = out[i]!.body as string;
    for (const secret of p.secrets) {
      if (body.includes(secret)) {
        leaked++;
        t.fail(`${p.detector} secret left in: ${body}`);
      }
    }
    if (!body.includes('****')) t.fail(`nothing masked in: ${p.line}`);
  });
  t.equal(leaked, 0, `all ${planted.reduce((n, p) => n + p.secrets.length, 0)} planted secrets masked`);
  const stats = h.stats();
  for (const d of ['email', 'ipv4', 'ipv6', 'credit_card', 'jwt', 'bearer_token', 'aws_key', 'password']) t.ok((stats[`masked_${d}`] ?? 0) > 0, `${d} found secrets`);

  const falsePositives = clean.filter((line, i) => out[planted.length + i]!.body !== line);
  const rate = falsePositives.length / clean.length;
  t.comment(`false positives: ${falsePositives.length} of ${clean.length} clean lines (${(rate * 100).toFixed(1)} %)`);
  for (const line of falsePositives) t.comment(`  masked in a clean line: ${line}`);
  t.ok(rate <= 0.02, `false-positive rate ${(rate * 100).toFixed(1)} % ≤ 2 %`);
});
