import type { ApiLog } from '../../../src/extensions/console/api-types.js';
import t from 'tap';
import { api, ago, BASE_MS, ingest, startConsoleDaemon, waitExported, type ConsoleDaemon } from '../../support/console.js';
import { embeddedClient, queryRows, waitFor } from '../../support/daemon.js';
import { emitWithSdk } from '../../support/sdk.js';

/*
 * The console's query API against a running daemon with real data in embedded ClickHouse: records
 * sent through json_ingest (plain fetch) and the OpenTelemetry JS SDK's OTLP/HTTP exporter, read
 * back through /api/v1/….
 */

type Log = ApiLog;
interface Logs {
  logs: Log[];
  next_cursor: string | null;
}
interface Template {
  id: string;
  text: string;
  count: number;
  previous_count: number;
  change: number | null;
  first_seen: string;
  last_seen: string;
  new: boolean;
  services: string[];
  max_severity: string;
  source: string;
  sample: string;
  lineage: string[];
  series: number[];
}
interface Templates {
  bucket_seconds: number;
  buckets: number[];
  templates: Template[];
}
interface ApiError {
  error: { parameter: string | null; message: string };
}

const TRACE = 'abcdef0123456789abcdef0123456789';
const INJECTIONS = ["x' OR '1'='1", "'; DROP TABLE otel.otel_logs; --", "\\' OR 1=1 --", '{q:String}', 'a}); SELECT 1 --'];

let d: ConsoleDaemon;
let sent = 0;

async function send(entries: Parameters<typeof ingest>[1]): Promise<void> {
  await ingest(d, entries);
  sent += entries.length;
  await waitExported(d, sent);
}

const logs = async (query: string) => {
  const r = await api<Logs>(d, `/api/v1/logs?${query}`);
  if (r.status !== 200) throw new Error(`/api/v1/logs?${query} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
};

t.before(async () => {
  d = await startConsoleDaemon(
    `console: { endpoint: 127.0.0.1:0 }
bearertokenauth: { token: s3cret }
console/secured: { endpoint: 127.0.0.1:0, auth: { authenticator: bearertokenauth } }`,
    ['bearertokenauth', 'console', 'console/secured'],
  );
  await send(
    Array.from({ length: 30 }, (_, i) => ({
      message: `Connection to db-${i} refused`,
      service: 'api',
      level: 'ERROR',
      timestamp: ago(600 + i),
      metadata: { attempt: i, region: i % 2 === 0 ? 'eu' : 'us' },
      ...(i === 0 ? { trace_id: TRACE } : {}),
    })),
  );
  await send(Array.from({ length: 20 }, (_, i) => ({ message: `Payment accepted for order ${i}`, service: 'checkout', level: 'INFO', timestamp: ago(300 + i), host: 'web-1' })));
  await send(Array.from({ length: 10 }, (_, i) => ({ message: `Job ${i} finished in ${i * 7}ms`, service: 'worker', level: 'DEBUG', timestamp: ago(100 + i) })));
  // 3 in the hour before the last one, 2 in the last: a change of -1/3.
  await send(Array.from({ length: 5 }, (_, i) => ({ message: 'Slow query took 5s', service: 'api', level: 'WARN', timestamp: ago(i < 3 ? 5400 : 900) })));
  await send(INJECTIONS.map((s, i) => ({ message: s, service: s, level: 'FATAL', timestamp: ago(200 + i), metadata: { [s]: s } })));
  // The first is mined alone; the next ones generalise it into "Login succeeded for user <*>", and the first record keeps the id it was stored with.
  await send([{ message: 'Login succeeded for user alice', service: 'auth', level: 'INFO', timestamp: ago(400) }]);
  await send([
    { message: 'Login succeeded for user bob', service: 'auth', level: 'INFO', timestamp: ago(399) },
    { message: 'Login succeeded for user carol', service: 'auth', level: 'WARN', timestamp: ago(398) },
  ]);
  await emitWithSdk('http/json', { grpcPort: 0, httpPort: d.httpPort }, 20);
  sent += 20;
  await waitExported(d, sent);
});

t.teardown(() => d?.stop());

t.test('logs: newest first, every column, the current template and its parameters', async (t) => {
  const { logs: rows } = await logs('service=api&severity=error&limit=3');
  t.same(
    rows.map((r) => r.body),
    ['Connection to db-0 refused', 'Connection to db-1 refused', 'Connection to db-2 refused'],
  );
  const first = rows[0]!;
  t.match(first.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  t.match(first, {
    trace_id: TRACE,
    severity_text: 'ERROR',
    severity_number: 17,
    service_name: 'api',
    resource_attributes: { org: 'acme', 'service.name': 'api' },
    scope_name: 'otelhouse/json_ingest',
    log_attributes: { attempt: '0', region: 'eu' },
    template: 'Connection to db-<*> refused',
    template_params: ['0'],
  });
  t.match(first.template_id, /^\d+$/);
  t.equal(first.current_template_id, first.template_id);
  const sdk = (await logs('from=2023-11-14T00:00:00Z&to=2023-11-15T00:00:00Z&limit=1000')).logs;
  t.equal(sdk.length, 20, 'the SDK records, in their own range');
  t.match(
    sdk.find((r) => r.log_attributes.seq === '3'),
    {
      timestamp: '2023-11-14T22:13:20.123456792Z',
      observed_timestamp: '2023-11-14T22:13:21.000000004Z',
      span_id: /^b+[0-9a-f]+$/,
      trace_flags: 1,
      scope_name: 'checkout-scope',
      scope_version: '1.2.3',
      resource_attributes: { 'k8s.pod.name': 'api-0', 'host.name': 'node-7' },
      log_attributes: { 'kvlist.attr': '{"nested":{"deep":"x"},"n":7}' },
    },
  );
});

t.test('q: every word must be a token of the body, in any case; more than a word is also a phrase', async (t) => {
  t.equal((await logs('q=refused')).logs.length, 30);
  t.equal((await logs('q=REFUSED&limit=1000')).logs.length, 30, 'case-insensitive');
  t.equal((await logs('q=refuse')).logs.length, 0, 'a token, not a substring');
  t.same(
    (await logs('q=db-7%20refused')).logs.map((r) => r.body),
    ['Connection to db-7 refused'],
    'a phrase',
  );
  t.same(
    (await logs('q=refused%20db-7')).logs.map((r) => r.body),
    [],
    'the words in another order are not the phrase',
  );
  t.equal((await logs('q=payment%20accepted')).logs.length, 20);
});

t.test('service (repeatable), severity (a minimum, by name or number), trace_id, attr.<key>', async (t) => {
  t.equal((await logs('service=worker')).logs.length, 10);
  t.equal((await logs('service=worker&service=checkout')).logs.length, 30);
  t.equal((await logs('service=nope')).logs.length, 0);
  const severities = async (q: string) => [...new Set((await logs(`${q}&limit=1000`)).logs.map((r) => r.severity_text))].sort();
  t.same(await severities('severity=warn'), ['ERROR', 'FATAL', 'WARN']);
  t.same(await severities('severity=ERROR'), ['ERROR', 'FATAL']);
  t.same(await severities('severity=21'), ['FATAL']);
  t.same(await severities('severity=debug&service=worker'), ['DEBUG']);
  t.same(await severities('severity=info&service=worker'), []);
  t.same(
    (await logs(`trace_id=${TRACE.toUpperCase()}`)).logs.map((r) => r.body),
    ['Connection to db-0 refused'],
    'trace_id in any case',
  );
  t.equal((await logs('attr.region=eu')).logs.length, 15, 'a log attribute');
  t.equal((await logs('attr.region=eu&attr.attempt=4')).logs.length, 1, 'attributes combine');
  t.equal((await logs('attr.host.name=web-1')).logs.length, 20, 'a resource attribute');
  t.equal((await logs('attr.k8s.pod.name=api-0&from=2023-11-14T00:00:00Z&to=2023-11-15T00:00:00Z')).logs.length, 20, 'an SDK resource attribute');
  t.equal((await logs('attr.region=')).logs.length, 0, 'an empty value asks for the key present and empty');
});

t.test('from and to: RFC 3339 or relative; the default range is the last hour', async (t) => {
  t.equal((await logs('service=api&limit=1000')).logs.length, 32, 'the 90-minute-old records are outside the default hour');
  t.equal((await logs('service=api&from=-3h&limit=1000')).logs.length, 35);
  t.equal((await logs('service=api&from=-3h&to=-1h')).logs.length, 3);
  const iso = (ms: number) => new Date(ms).toISOString();
  t.equal((await logs(`service=worker&from=${iso(BASE_MS - 105_000)}&to=now`)).logs.length, 6, 'an RFC 3339 from');
  const offset = new Date(BASE_MS - 104_000 + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
  t.equal((await logs(`service=worker&from=${iso(BASE_MS - 200_000)}&to=${encodeURIComponent(offset)}`)).logs.length, 5, 'an RFC 3339 to with an offset');
  const sdk = await logs('from=2023-11-14T22:13:20.123456792Z&to=2023-11-14T22:13:20.123456795Z');
  t.same(
    sdk.logs.map((r) => r.log_attributes.seq),
    ['5', '4', '3'],
    'nanoseconds are kept: from is inclusive, to exclusive',
  );
});

t.test('template: any id of a lineage selects every record of its current template', async (t) => {
  const rows = async () => (await logs('service=auth&limit=10')).logs;
  let auth = await rows();
  t.equal(auth.length, 3);
  const oldId = auth.find((r) => r.body.includes('alice'))!.template_id;
  const newId = auth.find((r) => r.body.includes('carol'))!.template_id;
  t.not(oldId, newId, 'the first record keeps the id it was stored with');
  // The lineage dictionary reloads every 1–10 s.
  t.ok(await waitFor(async () => (await rows()).every((r) => r.current_template_id === newId), 30_000, 250), 'every record resolves to the current template');
  auth = await rows();
  t.same(
    auth.map((r) => r.template),
    ['Login succeeded for user <*>', 'Login succeeded for user <*>', 'Login succeeded for user <*>'],
  );
  t.same(auth.find((r) => r.body.includes('alice'))!.template_params, [], 'its parameters are those of the template it was stored with');
  t.equal((await logs(`template=${newId}`)).logs.length, 3, 'the current id');
  t.equal((await logs(`template=${oldId}`)).logs.length, 3, 'the id it replaced');
  const payment = (await logs('service=checkout&limit=1')).logs[0]!.template_id;
  t.equal((await logs(`template=${payment}`)).logs.length, 20);
  t.equal((await logs('template=12345')).logs.length, 0, 'an id never stored selects nothing');
});

t.test('histogram: counts by bucket and severity for the same filters', async (t) => {
  const r = await api<{ bucket_seconds: number; buckets: number[]; counts: Record<string, number[]> }>(d, '/api/v1/logs/histogram');
  t.equal(r.status, 200);
  t.equal(r.body.bucket_seconds, 30, 'an hour in 30 s buckets');
  t.ok(r.body.buckets.length >= 60 && r.body.buckets.length <= 121, `${r.body.buckets.length} buckets`);
  t.same(Object.keys(r.body.counts).sort(), ['DEBUG', 'ERROR', 'FATAL', 'INFO', 'TRACE', 'UNSPECIFIED', 'WARN']);
  for (const series of Object.values(r.body.counts)) t.equal(series.length, r.body.buckets.length);
  const sum = (s: number[]) => s.reduce((a, b) => a + b, 0);
  t.equal(sum(r.body.counts.ERROR!), 30);
  t.equal(sum(r.body.counts.DEBUG!), 10);
  t.equal(sum(r.body.counts.FATAL!), INJECTIONS.length);
  t.ok(r.body.buckets.every((b, i) => i === 0 || b - r.body.buckets[i - 1]! === 30));
  const filtered = await api<{ counts: Record<string, number[]> }>(d, '/api/v1/logs/histogram?service=api&from=-3h&q=slow');
  t.equal(sum(filtered.body.counts.WARN!), 5);
  t.equal(sum(Object.values(filtered.body.counts).flat()), 5, 'the other severities are empty');
  const week = await api<{ bucket_seconds: number; buckets: number[] }>(d, '/api/v1/logs/histogram?from=-7d');
  t.equal(week.body.bucket_seconds, 7200);
  t.equal(week.body.buckets.length, 85);
});

t.test('templates: counts over the range, lineage, sparkline, sorting, filters', async (t) => {
  const r = await api<Templates>(d, '/api/v1/templates');
  t.equal(r.status, 200);
  const byText = new Map(r.body.templates.map((x) => [x.text, x]));
  const refused = byText.get('Connection to db-<*> refused')!;
  t.match(refused, { count: 30, previous_count: 0, change: null, new: true, services: ['api'], max_severity: 'ERROR', source: 'miner' });
  t.match(refused.sample, /^Connection to db-\d+ refused$/);
  t.equal(refused.series.length, r.body.buckets.length);
  t.equal(
    refused.series.reduce((a, b) => a + b, 0),
    30,
    'the series adds up to the count',
  );
  t.same(
    r.body.templates.map((x) => x.count),
    [...r.body.templates.map((x) => x.count)].sort((a, b) => b - a),
    'most frequent first',
  );
  const users = byText.get('Login succeeded for user <*>')!;
  t.equal(users.count, 3, 'the records of a replaced template count for its current one');
  t.equal(users.lineage.length, 2, "the ids it replaced (alice's and bob's templates)");
  t.match(users, { services: ['auth'], max_severity: 'WARN' });
  t.match(byText.get('Slow query took 5s'), { count: 2, previous_count: 3 }, "only those inside the range count; the previous period's are previous_count");
  const wide = await api<Templates>(d, '/api/v1/templates?from=-24h');
  t.equal(wide.body.bucket_seconds, 3600, 'a day from the hourly table');
  t.equal(new Map(wide.body.templates.map((x) => [x.text, x])).get('Slow query took 5s')?.count, 5);
  const prev = await api<Templates>(d, '/api/v1/templates?from=-60m&to=now&service=api');
  t.same(
    prev.body.templates.map((x) => x.text),
    ['Connection to db-<*> refused', 'Slow query took 5s'],
    'service filter',
  );
  const later = await api<Templates>(d, '/api/v1/templates?from=-1h&to=now&q=SUCCEEDED%20for');
  t.same(
    later.body.templates.map((x) => x.text),
    ['Login succeeded for user <*>'],
    'q matches the template text, any case',
  );
  const newest = await api<Templates>(d, '/api/v1/templates?sort=new&limit=2');
  t.equal(newest.body.templates.length, 2, 'limit');
  t.ok(newest.body.templates[0]!.first_seen >= newest.body.templates[1]!.first_seen, 'newest first');
});

t.test('templates sorted by change against the previous period of the same length', async (t) => {
  const r = await api<Templates>(d, '/api/v1/templates?sort=change');
  const last = r.body.templates.at(-1)!;
  t.match(last, { text: 'Slow query took 5s', count: 2, previous_count: 3 });
  t.equal(last.change, (2 - 3) / 3, 'change is (count - previous_count) / previous_count');
  t.ok(
    r.body.templates.slice(0, -1).every((x) => x.change === null && x.previous_count === 0),
    'templates without a previous count (new) come first',
  );
  // Over [-3h, -1h) the previous period [-5h, -3h) is empty: the template is new there.
  const earlier = await api<Templates>(d, '/api/v1/templates?from=-3h&to=-1h&sort=change');
  t.same(
    earlier.body.templates.map((x) => [x.text, x.count, x.change]),
    [['Slow query took 5s', 3, null]],
  );
});

t.test('templates/{id}: any id of the lineage, with the distribution of each parameter', async (t) => {
  const list = await api<Templates>(d, '/api/v1/templates');
  const users = list.body.templates.find((x) => x.text === 'Login succeeded for user <*>')!;
  const r = await api<{ template: Template; params: Array<{ position: number; distinct: number; top: Array<{ value: string; count: number; share: number }> }> }>(
    d,
    `/api/v1/templates/${users.lineage[0]}`,
  );
  t.equal(r.status, 200);
  t.equal(r.body.template.id, users.id, 'an old id answers with its current template');
  t.equal(r.body.template.count, 3);
  t.same(
    r.body.params,
    [
      {
        position: 0,
        distinct: 3,
        top: [
          { value: 'alice', count: 1, share: 1 / 3 },
          { value: 'bob', count: 1, share: 1 / 3 },
          { value: 'carol', count: 1, share: 1 / 3 },
        ],
      },
    ],
    "the replaced record's parameter is read from its body",
  );
  const refused = list.body.templates.find((x) => x.text === 'Connection to db-<*> refused')!;
  const one = await api<{ params: Array<{ distinct: number; top: Array<{ share: number }> }> }>(d, `/api/v1/templates/${refused.id}`);
  t.equal(one.body.params[0]!.distinct, 30);
  t.equal(one.body.params[0]!.top.length, 10, 'the top 10 values');
  t.equal(one.body.params[0]!.top[0]!.share, 1 / 30);
  const old = await api<{ template: Template }>(d, `/api/v1/templates/${refused.id}?from=-1m`);
  t.match(old.body.template, { id: refused.id, text: 'Connection to db-<*> refused', count: 0, services: ['api'] }, 'known but not seen in the range');
  t.ok(old.body.template.series.every((n) => n === 0));
  const missing = await api<ApiError>(d, '/api/v1/templates/12345');
  t.equal(missing.status, 404);
  t.equal(missing.body.error.parameter, 'id');
  const bad = await api<ApiError>(d, '/api/v1/templates/abc');
  t.same([bad.status, bad.body.error.parameter], [400, 'id']);
});

t.test('stats: what the telemetry endpoint serves', async (t) => {
  const r = await api<Record<string, unknown>>(d, '/api/v1/stats');
  t.equal(r.status, 200);
  const telemetry = (await (await fetch(`http://127.0.0.1:${d.telemetryPort}/stats`)).json()) as Record<string, unknown>;
  t.same(Object.keys(r.body).sort(), Object.keys(telemetry).sort());
  t.match(r.body, { state: 'running', pipelines: ['logs'], exporters: { clickhouse: {} } });
});

t.test('bad parameters: 400 naming the parameter, for each one', async (t) => {
  const cases: Array<[string, string]> = [
    ['/api/v1/logs?severity=loud', 'severity'],
    ['/api/v1/logs?severity=25', 'severity'],
    ['/api/v1/logs?severity=0', 'severity'],
    ['/api/v1/logs?limit=1001', 'limit'],
    ['/api/v1/logs?limit=0', 'limit'],
    ['/api/v1/logs?limit=ten', 'limit'],
    ['/api/v1/logs?from=yesterday', 'from'],
    ['/api/v1/logs?from=2026-02-30T00:00:00Z', 'from'],
    ['/api/v1/logs?to=-15x', 'to'],
    ['/api/v1/logs?from=-1h&to=-2h', 'from'],
    ['/api/v1/logs?template=abc', 'template'],
    ['/api/v1/logs?template=99999999999999999999', 'template'],
    ['/api/v1/logs?trace_id=xyz', 'trace_id'],
    ['/api/v1/logs?cursor=garbage', 'cursor'],
    ['/api/v1/logs?q=%20%2B%2B', 'q'],
    [`/api/v1/logs?q=${'a'.repeat(1001)}`, 'q'],
    ['/api/v1/logs?attr.=x', 'attr.'],
    ['/api/v1/logs?colour=red', 'colour'],
    ['/api/v1/logs?severity=warn&severity=error', 'severity'],
    ['/api/v1/logs/histogram?from=soon', 'from'],
    ['/api/v1/templates?sort=size', 'sort'],
    ['/api/v1/templates?limit=-1', 'limit'],
    ['/api/v1/templates?template=1', 'template'],
    ['/api/v1/templates/1?to=never', 'to'],
    ['/api/v1/tail?severity=x', 'severity'],
  ];
  for (const [path, parameter] of cases) {
    const r = await api<ApiError>(d, path);
    t.equal(r.status, 400, `${path} → 400`);
    t.equal(r.body.error?.parameter, parameter, `${path} names ${parameter}`);
    t.match(r.body.error?.message, /\S/, 'and says why');
  }
  const notFound = await api<ApiError>(d, '/api/v1/nothing');
  t.equal(notFound.status, 404);
  const post = await api<ApiError>(d, '/api/v1/logs', { method: 'POST', body: '{}' });
  t.equal(post.status, 405);
});

t.test('SQL injection in every parameter: stored verbatim and found verbatim, or refused', async (t) => {
  for (const s of INJECTIONS) {
    const q = encodeURIComponent(s);
    const byService = await logs(`service=${q}`);
    t.same(
      byService.logs.map((r) => [r.service_name, r.body]),
      [[s, s]],
      `service ${s}`,
    );
    const byAttr = await logs(`attr.${q}=${q}`);
    t.same(
      byAttr.logs.map((r) => r.log_attributes[s]),
      [s],
      `attr key and value ${s}`,
    );
    const byText = await api<Logs | ApiError>(d, `/api/v1/logs?q=${q}&severity=fatal`);
    t.equal(byText.status, 200, `q ${s}`);
    t.ok(
      (byText.body as Logs).logs.every((r) => r.body === s || r.body.toLowerCase().includes(s.toLowerCase())),
      `q ${s} finds only records holding it`,
    );
    const templates = await api<Templates>(d, `/api/v1/templates?q=${q}&service=${q}`);
    t.equal(templates.status, 200, `templates q and service ${s}`);
    for (const p of ['severity', 'template', 'trace_id', 'from', 'to', 'limit', 'cursor']) {
      const r = await api<ApiError>(d, `/api/v1/logs?${p}=${q}`);
      t.equal(r.status, 400, `${p}=${s} is refused`);
    }
    t.equal((await api(d, `/api/v1/templates?sort=${q}`)).status, 400);
    t.equal((await api(d, `/api/v1/templates/${q}`)).status, 400);
  }
  const client = embeddedClient(d.store);
  const [row] = await queryRows<{ n: string }>(client, 'SELECT count() AS n FROM otel.otel_logs');
  t.equal(Number(row!.n), sent, 'every record is still there');
});

t.test('pagination: no gap and no repeat while new records arrive, ties included', async (t) => {
  // 120 records in 40 distinct nanoseconds, 3 in each: two identical, one not.
  const batch = Array.from({ length: 120 }, (_, i) => ({
    message: `paging record ${Math.floor(i / 3)}${i % 3 === 2 ? ' b' : ''}`,
    service: 'paging',
    level: 'INFO',
    timestamp: ago(1000, Math.floor(i / 3)),
  }));
  await send(batch);
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let arriving = 0;
  do {
    const page: Logs = await logs(`service=paging&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...page.logs.map((r) => `${r.timestamp} ${r.body}`));
    cursor = page.next_cursor;
    pages++;
    // Newer records of the same service arrive between pages.
    await send([{ message: `arrived during paging ${arriving++}`, service: 'paging', level: 'INFO', timestamp: ago(0, arriving) }]);
  } while (cursor !== null && pages < 100);
  t.equal(pages, 18, '120 records in pages of 7');
  t.equal(seen.length, 120, 'every record once');
  const expected = batch.map((b) => `${b.timestamp} ${b.message}`).sort();
  t.same([...seen].sort(), expected, 'exactly the records that were there when paging began');
  const times = seen.map((x) => x.split(' ')[0]!);
  t.same(times, [...times].sort().reverse(), 'newest first');
  const all = await logs('service=paging&limit=1000');
  t.equal(all.logs.length, 120 + arriving);
  t.equal(all.next_cursor, null, 'no next page when everything fits');
  t.equal((await logs('service=paging')).logs.length, 100, 'the default limit is 100');
});

t.test('pagination: pages that end where a nanosecond ends, and pages that end inside one', async (t) => {
  // 60 records in 20 nanoseconds, 3 in each: pages of 3 end where a nanosecond ends (the edge's
  // records are not read again), pages of 4 and 5 inside one (they are).
  const batch = Array.from({ length: 60 }, (_, i) => ({
    message: `edge record ${Math.floor(i / 3)}${i % 3 === 2 ? ' b' : ''}`,
    service: 'edges',
    level: 'INFO',
    timestamp: ago(2000, Math.floor(i / 3)),
  }));
  await send(batch);
  const expected = batch.map((b) => `${b.timestamp} ${b.message}`).sort();
  for (const limit of [3, 4, 5]) {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Logs = await logs(`service=edges&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.logs.map((r) => `${r.timestamp} ${r.body}`));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null && pages < 100);
    t.equal(pages, Math.ceil(60 / limit), `pages of ${limit}: as many as 60 records fill`);
    t.same([...seen].sort(), expected, `pages of ${limit}: every record once`);
    const times = seen.map((x) => x.split(' ')[0]!);
    t.same(times, [...times].sort().reverse(), `pages of ${limit}: newest first`);
  }
});

t.test('auth: the API and the SQL interface of a console with an authenticator need its token', async (t) => {
  const none = await api<ApiError>(d, '/api/v1/logs', {}, 'console/secured');
  t.equal(none.status, 401);
  t.match(none.body.error.message, /Authorization/);
  t.equal((await api(d, '/api/v1/logs', { headers: { Authorization: 'Bearer wrong' } }, 'console/secured')).status, 401);
  const ok = await api<Logs>(d, '/api/v1/logs?service=worker', { headers: { Authorization: 'Bearer s3cret' } }, 'console/secured');
  t.equal(ok.status, 200);
  t.equal(ok.body.logs.length, 10);
  t.equal((await api(d, '/api/v1/stats', {}, 'console/secured')).status, 401, 'stats too');
  const sql = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${d.consolePort('console/secured')}/?query=SELECT%201`, { headers });
  const refused = await sql({});
  t.equal(refused.status, 401);
  t.equal(refused.headers.get('x-clickhouse-exception-code'), '516');
  t.equal((await sql({ Authorization: `Basic ${Buffer.from('default:s3cret').toString('base64')}` })).status, 200, 'the password of basic auth');
  t.equal((await sql({ 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': 's3cret' })).status, 200, 'X-ClickHouse-Key');
  t.equal((await sql({ Authorization: 'Bearer s3cret' })).status, 200, 'a bearer token');
  t.equal((await sql({ 'X-ClickHouse-Key': 'nope' })).status, 401);
});
