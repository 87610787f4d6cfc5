import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import t from 'tap';
import { StaticFiles } from '../../../src/extensions/console/static-files.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { api, ago, ingest, startConsoleDaemon, waitExported, type ConsoleDaemon } from '../../support/console.js';
import { tempDir } from '../../support/daemon.js';

/*
 * The console's read-only subset of ClickHouse's HTTP interface, used by @clickhouse/client as
 * Grafana's data source uses a server; its tail (Server-Sent Events); its static files.
 */

let d: ConsoleDaemon;
let client: ClickHouseClient;
let sent = 0;

async function send(entries: Parameters<typeof ingest>[1]): Promise<void> {
  await ingest(d, entries);
  sent += entries.length;
  await waitExported(d, sent);
}

t.before(async () => {
  d = await startConsoleDaemon('console: { endpoint: 127.0.0.1:0, sql: { max_execution_time: 20s, max_result_rows: 50 } }');
  client = createClient({ url: `http://127.0.0.1:${d.consolePort()}`, log: { level: 127 as never } });
  await send(
    Array.from({ length: 30 }, (_, i) => ({ message: `GET /cart/${i} answered 200`, service: 'web', level: i % 3 === 0 ? 'ERROR' : 'INFO', timestamp: ago(60 + i), metadata: { route: '/cart' } })),
  );
});

t.teardown(async () => {
  await client?.close();
  await d?.stop();
});

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
    return undefined;
  } catch (err) {
    return { code: (err as { code?: string }).code, type: (err as { type?: string }).type, message: (err as Error).message };
  }
};

t.test('@clickhouse/client runs a Grafana-style logs query', async (t) => {
  t.same(await client.ping(), { success: true });
  const from = Date.now() - 3_600_000;
  const to = Date.now() + 60_000;
  // What Grafana's ClickHouse data source sends for its logs view (OTel schema), its $__fromTime/$__toTime expanded.
  const rs = await client.query({
    query: `SELECT Timestamp as "timestamp", Body as "body", SeverityText as "level", LogAttributes as "labels", TraceId as "traceID" FROM "otel"."otel_logs" WHERE ( timestamp >= fromUnixTimestamp64Milli(${from}) AND timestamp <= fromUnixTimestamp64Milli(${to}) ) AND ( level IN ('ERROR') ) ORDER BY timestamp DESC LIMIT 1000`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ timestamp: string; body: string; level: string; labels: Record<string, string> }>();
  t.equal(rows.length, 10);
  t.match(rows[0], { body: 'GET /cart/0 answered 200', level: 'ERROR', labels: { route: '/cart' } });
  t.match(rs.query_id, /\S/);
  const bound = await client.query({
    query: 'SELECT count() AS n FROM otel.otel_logs WHERE ServiceName = {service:String} AND SeverityText = {level:String}',
    query_params: { service: 'web', level: "INFO' OR 1=1 --" },
    format: 'JSONEachRow',
  });
  t.same(await bound.json(), [{ n: 0 }], 'bound parameters (param_…) are values, not SQL');
  const db = createClient({ url: `http://127.0.0.1:${d.consolePort()}`, database: 'otel' });
  const counted = await db.query({ query: 'SELECT count() AS n, currentDatabase() AS db FROM otel_logs', format: 'JSON' });
  t.match(await counted.json(), { data: [{ n: sent, db: 'otel' }] }, 'the database parameter');
  await db.close();
  const grouped = await client.query({ query: 'SELECT Template, count() AS n FROM otel.otel_logs GROUP BY Template ORDER BY n DESC', format: 'JSONEachRow' });
  t.same(await grouped.json(), [{ Template: 'GET <*> answered <*>', n: 30 }], 'the ALIAS columns resolve (lineage and text dictionaries)');
});

t.test("writes, DDL, settings changes and table functions are refused with ClickHouse's codes", async (t) => {
  t.match(await refusal(client.insert({ table: 'otel.otel_logs', values: [{ Body: 'injected' }], format: 'JSONEachRow' })), { code: '164', type: 'READONLY' }, 'INSERT');
  t.match(await refusal(client.command({ query: 'ALTER TABLE otel.otel_logs DELETE WHERE 1' })), { code: '164', type: 'READONLY' }, 'ALTER');
  t.match(await refusal(client.command({ query: 'DROP TABLE otel.otel_logs' })), { code: '164' }, 'DROP');
  t.match(await refusal(client.command({ query: 'CREATE TABLE otel.x (a Int8) ENGINE = Memory' })), { code: '164' }, 'CREATE');
  t.match(await refusal(client.command({ query: 'SET max_threads = 1' })), { code: '164', type: 'READONLY' }, 'SET');
  t.match(await refusal(client.command({ query: 'SYSTEM DROP DNS CACHE' })), { code: '164' }, 'SYSTEM');
  t.match(await refusal(client.query({ query: 'SELECT 1 SETTINGS readonly = 0', format: 'JSONEachRow' })), { code: '164' }, 'readonly in the query');
  t.match(await refusal(client.query({ query: 'SELECT 1', format: 'JSONEachRow', clickhouse_settings: { readonly: '0' } })), { code: '164' }, 'readonly as a URL setting');
  t.match(await refusal(client.query({ query: 'SELECT 1; DROP TABLE otel.otel_logs', format: 'JSONEachRow' })), { code: '62', type: 'SYNTAX_ERROR' }, 'a second statement');
  t.match(await refusal(client.query({ query: "SELECT * FROM file('/etc/hostname', 'LineAsString')", format: 'JSONEachRow' })), { code: '164' }, 'a table function reading files');
  t.match(
    await refusal(client.query({ query: "/* comment */ WITH 1 AS x INSERT INTO otel.otel_logs (Body) VALUES ('x')", format: 'JSONEachRow' })),
    { code: '164', type: 'READONLY' },
    'a write behind a WITH: the engine refuses it at readonly=1',
  );
  t.match(await refusal(client.query({ query: 'SELEC 1', format: 'JSONEachRow' })), { code: '164' }, 'what is not a read statement');
  t.match(await refusal(client.query({ query: 'SELECT nope FROM otel.otel_logs', format: 'JSONEachRow' })), { code: '47', type: 'UNKNOWN_IDENTIFIER' }, "the engine's own errors pass through");
  await send([{ message: 'still written after the refusals', service: 'web', level: 'INFO' }]);
  const rs = await client.query({ query: "SELECT count() AS n FROM otel.otel_logs WHERE Body = 'still written after the refusals'", format: 'JSONEachRow' });
  t.same(await rs.json(), [{ n: 1 }], "the readonly setting of a read session does not reach the exporter's writes");
  const [row] = await (await client.query({ query: "SELECT count() AS n FROM otel.otel_logs WHERE Body = 'injected'", format: 'JSONEachRow' })).json<{ n: number }>();
  t.equal(row!.n, 0, 'nothing was inserted');
});

t.test('limits: the configured ones apply; a client may lower them, not raise them', async (t) => {
  const setting = async (name: string, settings: Record<string, string> = {}) => {
    const rs = await client.query({ query: `SELECT getSetting('${name}') AS v`, format: 'JSONEachRow', clickhouse_settings: settings });
    return String((await rs.json<{ v: unknown }>())[0]!.v);
  };
  t.equal(await setting('readonly'), '1');
  t.equal(await setting('max_execution_time'), '20');
  t.equal(await setting('max_execution_time', { max_execution_time: '5' }), '5', 'lowered');
  t.equal(await setting('max_execution_time', { max_execution_time: '3600' }), '20', 'not raised');
  t.equal(await setting('max_result_rows', { max_result_rows: '0' }), '50', '0 (no limit) is the configured limit');
  t.match(await refusal(client.query({ query: 'SELECT number FROM numbers(100)', format: 'JSONEachRow' })), { code: '396', type: 'TOO_MANY_ROWS_OR_BYTES' }, 'max_result_rows');
  t.equal(await setting('max_threads', { max_threads: '1' }), '1', 'other settings pass');
});

t.test('the HTTP interface as curl and clickhouse-client use it', async (t) => {
  const base = `http://127.0.0.1:${d.consolePort()}`;
  const ping = await fetch(`${base}/ping`);
  t.equal(await ping.text(), 'Ok.\n');
  const get = await fetch(`${base}/?query=${encodeURIComponent('SELECT 1 AS x')}&default_format=JSONCompact`);
  t.equal(get.status, 200);
  t.match(get.headers.get('content-type'), /^application\/json/);
  t.match(await get.json(), { data: [[1]] });
  const tsv = await fetch(`${base}/`, { method: 'POST', body: "SELECT ServiceName, count() FROM otel.otel_logs WHERE ServiceName = 'web' GROUP BY ServiceName" });
  t.equal(await tsv.text(), `web\t${sent}\n`, 'TabSeparated by default');
  t.match(tsv.headers.get('content-type'), /^text\/tab-separated-values/);
  const concat = await fetch(`${base}/?query=${encodeURIComponent('SELECT 1 AS x')}`, { method: 'POST', body: 'FORMAT JSONEachRow' });
  t.equal(await concat.text(), '{"x":1}\n', 'the query parameter and the body are one query');
  const bad = await fetch(`${base}/?query=${encodeURIComponent('SELECT (')}`);
  t.equal(bad.status, 400);
  t.equal(bad.headers.get('x-clickhouse-exception-code'), '62');
  t.match(await bad.text(), /^Code: 62\. DB::Exception: .+\(SYNTAX_ERROR\) \(version [^)]+\)\n$/s, "ClickHouse's error text");
  const insert = await fetch(`${base}/`, { method: 'POST', body: "INSERT INTO otel.otel_logs (Body) VALUES ('x')" });
  t.equal(insert.status, 403);
  t.match(await insert.text(), /^Code: 164\. DB::Exception: Cannot execute query in readonly mode\. \(READONLY\)/);
  const empty = await fetch(`${base}/`, { method: 'POST', body: '' });
  t.equal(empty.headers.get('x-clickhouse-exception-code'), '62');
  const unknown = await fetch(`${base}/?query=SELECT%201&database=${encodeURIComponent('otel; DROP')}`);
  t.equal(unknown.headers.get('x-clickhouse-exception-code'), '81', 'a database that is no identifier');
});

t.test('tail: records as they are exported, through the same filters, as Server-Sent Events', async (t) => {
  const controller = new AbortController();
  const res = await fetch(`http://127.0.0.1:${d.consolePort()}/api/v1/tail?service=web&severity=error&q=checkout`, { signal: controller.signal });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/event-stream/);
  const reader = res.body!.getReader();
  let text = '';
  const events = async (n: number) => {
    const until = Date.now() + 20_000;
    while ((text.match(/^event: log$/gm)?.length ?? 0) < n && Date.now() < until) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
  };
  await send([
    { message: 'checkout failed for cart 1', service: 'web', level: 'ERROR' },
    { message: 'checkout failed for cart 2', service: 'web', level: 'INFO' },
    { message: 'checkout failed for cart 3', service: 'api', level: 'ERROR' },
    { message: 'payment failed for cart 4', service: 'web', level: 'FATAL' },
    { message: 'checkout failed for cart 5', service: 'web', level: 'FATAL', metadata: { cart: 5 } },
  ]);
  await events(2);
  controller.abort();
  const logs = [...text.matchAll(/^event: log\ndata: (.+)$/gm)].map(
    (m) => JSON.parse(m[1]!) as { body: string; severity_text: string; service_name: string; log_attributes: Record<string, string>; template: string | null; timestamp: string },
  );
  t.same(
    logs.map((l) => l.body),
    ['checkout failed for cart 1', 'checkout failed for cart 5'],
    'only the matching records',
  );
  t.match(logs[1], { severity_text: 'FATAL', service_name: 'web', log_attributes: { cart: '5' }, timestamp: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/ });
  t.match(logs[1]!.template, /checkout failed for cart/);
  const bad = await api<{ error: { parameter: string } }>(d, '/api/v1/tail?trace_id=zz');
  t.same([bad.status, bad.body.error.parameter], [400, 'trace_id']);
});

t.test("static files: content types, caching of hashed assets, index.html for the console's routes", async (t) => {
  const root = tempDir('console-static');
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>otelhouse</title>');
  writeFileSync(join(root, 'assets', 'app-3f9a1c2b.js'), 'console.log(1)');
  writeFileSync(join(root, 'assets', 'app-3f9a1c2b.css'), 'body{}');
  writeFileSync(join(root, 'favicon.svg'), '<svg/>');
  writeFileSync(join(root, '..', 'secret.txt'), 'secret');
  const files = new StaticFiles(root);
  const server = createServer((req, res) => void files.serve(req, res, new URL(req.url!, 'http://x').pathname === '/' ? '/index.html' : new URL(req.url!, 'http://x').pathname));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (path: string, method = 'GET') => {
    const r = await fetch(`${base}${path}`, { method });
    return { status: r.status, type: r.headers.get('content-type'), cache: r.headers.get('cache-control'), body: await r.text() };
  };
  t.match(await get('/'), { status: 200, type: 'text/html; charset=utf-8', cache: 'no-cache', body: /otelhouse/ });
  t.match(await get('/assets/app-3f9a1c2b.js'), { status: 200, type: 'text/javascript; charset=utf-8', cache: 'public, max-age=31536000, immutable' });
  t.match(await get('/assets/app-3f9a1c2b.css'), { status: 200, type: 'text/css; charset=utf-8' });
  t.match(await get('/favicon.svg'), { status: 200, type: 'image/svg+xml', cache: 'no-cache' });
  t.match(await get('/templates/123'), { status: 200, type: 'text/html; charset=utf-8', body: /otelhouse/ }, 'a console route gets index.html');
  t.match(await get('/assets/missing-00000000.js'), { status: 404 }, 'a missing asset is a 404, not the page');
  t.match(await get('/%2e%2e/secret.txt'), { status: 404 }, 'nothing outside the directory');
  t.match(await get('/..%2fsecret.txt'), { status: 404 });
  t.match(await get('/', 'HEAD'), { status: 200, body: '' });
  const unbuilt = new StaticFiles(join(root, 'nothing-here'));
  const server2 = createServer((req, res) => void unbuilt.serve(req, res, '/index.html'));
  await new Promise<void>((r) => server2.listen(0, '127.0.0.1', r));
  t.teardown(() => server2.close());
  const r = await fetch(`http://127.0.0.1:${(server2.address() as AddressInfo).port}/`);
  t.equal(r.status, 404);
  t.match(await r.text(), /npm run build/, 'an unbuilt console says how to build it');
});
