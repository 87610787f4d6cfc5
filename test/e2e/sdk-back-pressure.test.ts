import { createClient } from '@clickhouse/client';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import t, { type Test } from 'tap';
import { ClickHouseHttpFront } from '../support/clickhouse-http-front.js';
import { queryRows, startTestDaemon, tempDir, waitFor, type RunningDaemon } from '../support/daemon.js';
import { SDK_PROTOCOLS, sdkExporter, type SdkProtocol } from '../support/sdk.js';

/*
 * The OTel JS SDK's exporters through an overload: ClickHouse stalls for a few seconds while
 * three apps (gRPC, http/protobuf, http/json) send, and the daemon's small queue fills. The gRPC
 * exporter never retries a refusal, so what it keeps depends on the daemon waiting for room
 * instead of refusing; the HTTP exporters retry 429 with Retry-After (5 times, within their 10 s
 * export timeout).
 */

const RECORDS = 600;
const STALL_MS = 3500;

async function daemonBehindStalledClickHouse(t: Test, waitForRoom: string): Promise<{ daemon: RunningDaemon; front: ClickHouseHttpFront }> {
  const front = await ClickHouseHttpFront.start({ path: tempDir('sdk-bp-front') });
  t.teardown(() => front.close());
  const daemon = await startTestDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:0, wait_for_room: ${waitForRoom} }
      http: { endpoint: 127.0.0.1:0, wait_for_room: ${waitForRoom} }
processors:
  batch: { send_batch_size: 100, timeout: 20ms, max_pending_records: 200, wait_for_flush: true }
exporters:
  clickhouse:
    endpoint: ${front.url}
    sending_queue: { num_consumers: 1, queue_size: 200 }
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0 }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
  t.teardown(() => daemon.stop());
  return { daemon, front };
}

/** One app: emits RECORDS logs through the real SDK as fast as it can, then flushes and shuts down. */
async function app(protocol: SdkProtocol, daemon: RunningDaemon, service: string): Promise<void> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    processors: [new BatchLogRecordProcessor({ exporter: sdkExporter(protocol, daemon), maxExportBatchSize: 50, scheduledDelayMillis: 20 })],
  });
  const logger = provider.getLogger('overload');
  for (let i = 0; i < RECORDS; i++) {
    logger.emit({ body: `overload record ${i}`, attributes: { seq: i } });
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
  }
  await provider.forceFlush();
  await provider.shutdown();
}

async function storedPerApp(front: ClickHouseHttpFront, suffix: string): Promise<Record<SdkProtocol, number>> {
  const ch = createClient({ url: front.url });
  try {
    const rows = await queryRows<{ s: string; n: string }>(
      ch,
      `SELECT ServiceName AS s, toString(uniqExact(LogAttributes['seq'])) AS n FROM otel.otel_logs WHERE ServiceName LIKE '%-${suffix}' GROUP BY s`,
    );
    const counts = Object.fromEntries(SDK_PROTOCOLS.map((p) => [p, 0])) as Record<SdkProtocol, number>;
    for (const r of rows) counts[r.s.replace(`-${suffix}`, '') as SdkProtocol] = Number(r.n);
    return counts;
  } finally {
    await ch.close();
  }
}

async function overload(t: Test, waitForRoom: string, suffix: string): Promise<{ stored: Record<SdkProtocol, number>; exported: number }> {
  const { daemon, front } = await daemonBehindStalledClickHouse(t, waitForRoom);
  front.inject({ kind: 'delay', count: 1, delayMs: STALL_MS, match: /INSERT INTO otel\.otel_logs/ });
  await Promise.all(SDK_PROTOCOLS.map((p) => app(p, daemon, `${p}-${suffix}`)));
  const stats = async () =>
    ((await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { exported: number; queue_size: number } } }).exporters.clickhouse;
  await waitFor(async () => (await stats()).queue_size === 0, 30_000);
  return { stored: await storedPerApp(front, suffix), exported: (await stats()).exported };
}

t.test(`ClickHouse stalls ${STALL_MS} ms: with wait_for_room (default 5s) no SDK loses a record`, async (t) => {
  const { stored, exported } = await overload(t, '5s', 'wait');
  for (const p of SDK_PROTOCOLS) t.equal(stored[p], RECORDS, `${p}: all ${RECORDS} stored`);
  t.equal(exported, RECORDS * SDK_PROTOCOLS.length, 'each once');
});

t.test('the same stall with wait_for_room: 0 — what each SDK does with an immediate refusal', async (t) => {
  const { stored } = await overload(t, '0s', 'refuse');
  t.ok(stored.grpc < RECORDS, `grpc gives up on a refused export: ${stored.grpc} of ${RECORDS} stored`);
  for (const p of ['http/protobuf', 'http/json'] as const) t.equal(stored[p], RECORDS, `${p} retries 429 after Retry-After: all ${RECORDS} stored`);
});
