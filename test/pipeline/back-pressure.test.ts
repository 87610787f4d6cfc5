import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { ClickHouseHttpFront } from '../support/clickhouse-http-front.js';
import { queryRows, startTestDaemon, tempDir, waitFor } from '../support/daemon.js';
import { numberedBatch } from '../support/otlp-requests.js';
import { createClient } from '@clickhouse/client';
import { JsonIngestReceiver } from '../../src/receivers/json_ingest/json-ingest-receiver.js';

/** The RetryInfo delay inside a google.rpc.Status (grpc-status-details-bin). */
function decodeRetryInfo(status: Buffer): { seconds: number; nanos: number } | undefined {
  const root = protobuf.Root.fromJSON({
    nested: {
      Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 }, details: { rule: 'repeated', type: 'Any', id: 3 } } },
      Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
      RetryInfo: { fields: { retry_delay: { type: 'Duration', id: 1 } } },
      Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
    },
  });
  const decoded = root.lookupType('Status').decode(status) as unknown as { details: Array<{ type_url: string; value: Uint8Array }> };
  const any = decoded.details.find((d) => d.type_url === 'type.googleapis.com/google.rpc.RetryInfo');
  if (!any) return undefined;
  const info = root.lookupType('RetryInfo').toObject(root.lookupType('RetryInfo').decode(any.value), { longs: Number }) as { retry_delay?: { seconds?: number; nanos?: number } };
  return { seconds: info.retry_delay?.seconds ?? 0, nanos: info.retry_delay?.nanos ?? 0 };
}

t.test('with wait_for_room: 0, a stalled ClickHouse fills the queue; receivers answer 429 / RESOURCE_EXHAUSTED at once; nothing acknowledged is lost', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('bp-front') });
  t.teardown(() => front.close());
  front.inject({ kind: 'delay', count: 3, delayMs: 1500, match: /INSERT/ });
  const daemon = await startTestDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:0, wait_for_room: 0s }
      http: { endpoint: 127.0.0.1:0, wait_for_room: 0s }
  json_ingest: { endpoint: 127.0.0.1:0, wait_for_room: 0s }
processors:
  batch: { send_batch_size: 100, timeout: 20ms, max_pending_records: 200 }
exporters:
  clickhouse:
    endpoint: ${front.url}
    sending_queue: { num_consumers: 1, queue_size: 200 }
    retry_on_failure: { initial_interval: 50ms }
service:
  pipelines:
    logs: { receivers: [otlp, json_ingest], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
  t.teardown(() => daemon.stop());

  const acked: number[] = [];
  let ackedIngest = 0;
  const refusals: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 30; i++) {
    const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, {
      method: 'POST',
      body: encodeLogsRequest(numberedBatch(i * 50, 50)),
      headers: { 'Content-Type': 'application/x-protobuf' },
    });
    await res.arrayBuffer();
    if (res.status === 200) acked.push(i);
    else {
      refusals.push(res.status);
      retryAfter = res.headers.get('retry-after');
    }
  }
  t.ok(refusals.length > 0, `${refusals.length} requests refused while ClickHouse stalled`);
  t.same([...new Set(refusals)], [429], 'every refusal is 429');
  t.match(retryAfter, /^\d+$/, 'with Retry-After');

  const ingestPort = (daemon.service.receivers.find((r) => r.id === 'json_ingest')!.component as JsonIngestReceiver).port;
  front.inject({ kind: 'delay', count: 2, delayMs: 1500, match: /INSERT/ });
  const ingest: Array<{ status: number; retryAfter: string | null }> = [];
  for (let i = 0; i < 30; i++) {
    const logs = Array.from({ length: 50 }, (_, k) => ({ org: 'bp', service: 'ingest', message: `ingest ${i * 50 + k}` }));
    const res = await fetch(`http://127.0.0.1:${ingestPort}/logs/ingest`, { method: 'POST', body: JSON.stringify({ logs }), headers: { 'Content-Type': 'application/json' } });
    await res.arrayBuffer();
    if (res.status === 200) ackedIngest += 50;
    ingest.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
  }
  const ingestRefusals = ingest.filter((r) => r.status !== 200);
  t.ok(ingestRefusals.length > 0, `json_ingest: ${ingestRefusals.length} requests refused`);
  t.same([...new Set(ingestRefusals.map((r) => r.status))], [429], 'json_ingest: every refusal is 429');
  t.ok(
    ingestRefusals.every((r) => /^\d+$/.test(r.retryAfter ?? '')),
    'json_ingest: with Retry-After',
  );

  const Client = grpc.makeGenericClientConstructor({}, 'LogsService');
  const client = new Client(`127.0.0.1:${daemon.grpcPort}`, grpc.credentials.createInsecure());
  front.inject({ kind: 'delay', count: 2, delayMs: 1500, match: /INSERT/ });
  const grpcCodes: number[] = [];
  let retryInfo: { seconds: number; nanos: number } | undefined;
  for (let i = 0; i < 20; i++) {
    grpcCodes.push(
      await new Promise<number>((resolve) =>
        client.makeUnaryRequest(
          '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(encodeLogsRequest(numberedBatch(100_000 + i * 50, 50))),
          (err: grpc.ServiceError | null) => {
            if (!err) acked.push(2000 + i);
            const details = err?.metadata.get('grpc-status-details-bin')[0];
            if (details instanceof Buffer) retryInfo = decodeRetryInfo(details);
            resolve(err ? err.code : grpc.status.OK);
          },
        ),
      ),
    );
  }
  client.close();
  t.ok(grpcCodes.includes(grpc.status.RESOURCE_EXHAUSTED), 'gRPC refusals are RESOURCE_EXHAUSTED');
  t.notOk(
    grpcCodes.some((c) => c !== grpc.status.OK && c !== grpc.status.RESOURCE_EXHAUSTED),
    'and nothing else',
  );
  t.ok(retryInfo && retryInfo.seconds * 1000 + retryInfo.nanos / 1e6 > 0, 'with a google.rpc.RetryInfo saying when to retry (the OTLP spec makes RESOURCE_EXHAUSTED retryable only with it)');

  const ch = createClient({ url: front.url });
  t.teardown(() => ch.close());
  const expected = acked.map((i) => (i >= 2000 ? 100_000 + (i - 2000) * 50 : i * 50));
  t.ok(
    await waitFor(async () => {
      const [r] = await queryRows<{ n: string }>(ch, 'SELECT toString(count()) AS n FROM otel.otel_logs');
      return Number(r!.n) >= acked.length * 50 + ackedIngest;
    }, 60_000),
    'everything acknowledged arrives',
  );
  const [r] = await queryRows<{ n: string; u: string; firsts: string }>(
    ch,
    `SELECT toString(count()) AS n, toString(uniqExact(LogAttributes['seq'])) AS u,
            toString(countIf(toUInt64(LogAttributes['seq']) IN (${expected.join(',')}))) AS firsts FROM otel.otel_logs WHERE ServiceName = 'loadgen'`,
  );
  t.same(r, { n: String(acked.length * 50), u: String(acked.length * 50), firsts: String(expected.length) }, 'exactly the acknowledged records, once each');
  const [ing] = await queryRows<{ n: string; u: string }>(ch, "SELECT toString(count()) AS n, toString(uniqExact(Body)) AS u FROM otel.otel_logs WHERE ServiceName = 'ingest'");
  t.same(ing, { n: String(ackedIngest), u: String(ackedIngest) }, 'json_ingest: exactly the acknowledged records, once each');
});
