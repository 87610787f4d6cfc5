import { gzipSync } from 'node:zlib';
import t from 'tap';
import { JsonIngestReceiver } from '../../../src/receivers/json_ingest/json-ingest-receiver.js';
import { parseIsoTimestamp } from '../../../src/receivers/json_ingest/log-entry-mapper.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';

const KEY = 'test-key-0123456789';

t.test('ISO 8601 timestamps keep nanoseconds and offsets', async (t) => {
  t.equal(parseIsoTimestamp('2024-05-01T12:00:00.123456789Z'), 1_714_564_800_123_456_789n);
  t.equal(parseIsoTimestamp('2024-05-01T14:00:00.5+02:00'), 1_714_564_800_500_000_000n);
  t.equal(parseIsoTimestamp('2024-05-01 12:00:00'), 1_714_564_800_000_000_000n, 'no zone means UTC');
  t.equal(parseIsoTimestamp('2024-05-01T12:00Z'), 1_714_564_800_000_000_000n);
  t.equal(parseIsoTimestamp('yesterday'), undefined);
  t.equal(parseIsoTimestamp('2024-13-45T99:00:00Z'), undefined);
});

t.test('POST /logs/ingest: single, batch, 2,000 logs, NDJSON, gzip, errors by index, API key', async (t) => {
  const path = tempDir('json-ingest');
  const daemon = await startTestDaemon(`
receivers:
  json_ingest:
    endpoint: 127.0.0.1:0
    api_keys: [${KEY}]
processors:
  batch: { send_batch_size: 1000, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${path}" }
service:
  pipelines:
    logs: { receivers: [json_ingest], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
  t.teardown(() => daemon.stop());
  const port = (daemon.service.receivers[0]!.component as JsonIngestReceiver).port;
  const url = `http://127.0.0.1:${port}/logs/ingest`;
  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url, {
      method: 'POST',
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}`, ...headers },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const single = await post({
    timestamp: '2026-11-22T10:00:00.123456789Z',
    org: 'acme',
    dashboard: 'payments',
    service: 'checkout',
    host: 'web-1',
    level: 'warn',
    message: 'Payment retried after 3 attempts',
    metadata: { attempt: 3, amount: 12.5, ok: false, tags: ['a', 'b'], card: { brand: 'visa' } },
    trace_id: '0AF7651916CD43DD8448EB211C80319C',
    span_id: 'b7ad6b7169203331',
  });
  t.same(single, { status: 200, body: { accepted: 1, matched: 0, mined: 0, failed: 0 } }, 'a single object');

  const batch = await post({
    logs: [
      { org: 'acme', service: 'checkout', message: 'ok one' },
      { service: 'checkout', message: 'no org' },
      { org: 'acme', message: 'bad time', timestamp: 'yesterday' },
      { org: 'acme', message: 42 },
      { org: 'acme', message: 'bad trace', trace_id: 'xyz' },
      'not an object',
      { org: 'acme', service: 'checkout', level: 'ERROR', message: 'ok two' },
    ],
  });
  t.equal(batch.status, 200);
  t.same(
    batch.body,
    {
      accepted: 2,
      matched: 0,
      mined: 0,
      failed: 5,
      errors: [
        { index: 1, reason: 'org: required' },
        { index: 2, reason: 'timestamp: expected an ISO 8601 date-time such as 2024-05-01T12:00:00.123Z' },
        { index: 3, reason: 'message: expected a string' },
        { index: 4, reason: 'trace_id: expected 32 hex characters' },
        { index: 5, reason: 'expected a JSON object' },
      ],
    },
    'invalid entries are reported by index; valid ones are accepted',
  );

  const big = await post({ logs: Array.from({ length: 2000 }, (_, i) => ({ org: 'bulk', service: 'loader', message: `line ${i}`, metadata: { i } })) });
  t.same(big, { status: 200, body: { accepted: 2000, matched: 0, mined: 0, failed: 0 } }, 'a 2,000-log batch');

  const ndjson = ['{"org":"nd","message":"first"}', '{"org":"nd", broken', '', '{"org":"nd","message":"third"}'].join('\n');
  const nd = await post(gzipSync(ndjson), { 'Content-Type': 'application/x-ndjson', 'Content-Encoding': 'gzip' });
  t.equal(nd.status, 200);
  t.match(nd.body, { accepted: 2, failed: 1, errors: [{ index: 1, reason: /invalid JSON/ }] }, 'gzip NDJSON; a broken line is reported by its index');

  t.same(await post({ logs: [{ message: 'no org' }] }), { status: 400, body: { accepted: 0, matched: 0, mined: 0, failed: 1, errors: [{ index: 0, reason: 'org: required' }] } }, 'all invalid → 400');
  t.match(await post('{"org": '), { status: 400, body: { error: /invalid JSON/ } });
  t.match(await post('x', { 'Content-Type': 'text/plain' }), { status: 415 });
  t.match(await post({ org: 'a', message: 'b' }, { Authorization: '' }), { status: 401, body: { error: /API key/ } }, 'no key → 401');
  t.match(await post({ org: 'a', message: 'b' }, { Authorization: 'Bearer wrong' }), { status: 401 });
  t.same(await post({ org: 'k', message: 'via header' }, { Authorization: '', 'X-API-Key': KEY }), { status: 200, body: { accepted: 1, matched: 0, mined: 0, failed: 0 } }, 'X-API-Key works');

  const client = embeddedClient(path);
  t.teardown(() => client.close());
  const total = 1 + 2 + 2000 + 2 + 1;
  t.ok(await waitFor(async () => (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === String(total)), `${total} rows stored`);
  const [row] = await queryRows<Record<string, unknown>>(
    client,
    `SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ts, ServiceName, SeverityText, SeverityNumber, Body, ResourceAttributes, LogAttributes, TraceId, SpanId
     FROM otel.otel_logs WHERE Body LIKE 'Payment retried%'`,
  );
  t.same(
    row,
    {
      ts: '1795341600123456789',
      ServiceName: 'checkout',
      SeverityText: 'WARN',
      SeverityNumber: 13,
      Body: 'Payment retried after 3 attempts',
      ResourceAttributes: { dashboard: 'payments', 'host.name': 'web-1', org: 'acme', 'service.name': 'checkout' },
      LogAttributes: { amount: '12.5', attempt: '3', card: '{"brand":"visa"}', ok: 'false', tags: '["a","b"]' },
      TraceId: '0af7651916cd43dd8448eb211c80319c',
      SpanId: 'b7ad6b7169203331',
    },
    'fields map onto the log model',
  );
  const [levels] = await queryRows<{ error: number }>(client, "SELECT toUInt8(any(SeverityNumber)) AS error FROM otel.otel_logs WHERE Body = 'ok two'");
  t.equal(levels!.error, 17, 'level ERROR → severity 17');
});
