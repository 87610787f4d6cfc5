import t from 'tap';
import { embeddedClient, pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../support/daemon.js';
import { SDK_PROTOCOLS, SELECT_ROWS, emitWithSdk, type ExpectedRow } from '../support/sdk.js';

const PER_PROTOCOL = 120;

t.test('the OpenTelemetry JS SDK over gRPC, HTTP/protobuf and HTTP/JSON into embedded ClickHouse', async (t) => {
  const path = tempDir('sdk');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: `embedded://${path}` }));
  t.teardown(() => daemon.stop());
  const client = embeddedClient(path);
  t.teardown(() => client.close());

  const expected = new Map<string, ExpectedRow[]>();
  for (const protocol of SDK_PROTOCOLS) expected.set(protocol, await emitWithSdk(protocol, daemon, PER_PROTOCOL));

  const total = PER_PROTOCOL * SDK_PROTOCOLS.length;
  const stored = await waitFor(async () => {
    const [row] = await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs');
    return Number(row?.n) >= total;
  });
  t.ok(stored, `all ${total} records arrive`);
  const [count] = await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs');
  t.equal(Number(count!.n), total, 'exactly as many rows as records sent');

  for (const protocol of SDK_PROTOCOLS) {
    const want = expected.get(protocol)!;
    const rows = await queryRows<ExpectedRow>(client, SELECT_ROWS('otel', want[0]!.ServiceName));
    t.equal(rows.length, want.length, `${protocol}: row count`);
    t.same(rows, want, `${protocol}: every row matches field by field`);
  }

  const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { receivers: Record<string, { accepted: number }>; exporters: Record<string, { exported: number }> };
  t.equal(stats.receivers.otlp!.accepted, total, '/stats counts what the receiver accepted');
  t.equal(stats.exporters.clickhouse!.exported, total, '/stats counts what the exporter stored');
  const health = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/health`)).json()) as { status: string; clickhouse_connected: boolean };
  t.equal(health.status, 'ok');
  t.equal(health.clickhouse_connected, true);
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, new RegExp(`otelhouse_receiver_accepted_log_records_total\\{receiver="otlp",transport="grpc"\\} ${PER_PROTOCOL}`));
  t.match(metrics, new RegExp(`otelhouse_exporter_sent_log_records_total\\{exporter="clickhouse"\\} ${total}`));
  t.match(metrics, /otelhouse_exporter_send_duration_seconds_bucket/);
  t.match(metrics, /otelhouse_processor_batch_batch_send_size_bucket/);
});

t.test('create_schema is idempotent and the table has the contrib columns plus ours', async (t) => {
  const path = tempDir('schema');
  for (let i = 0; i < 2; i++) {
    const daemon = await startTestDaemon(pipelineYaml({ endpoint: `embedded://${path}`, exporterExtra: '    ttl: 72h' }));
    await daemon.stop();
  }
  const client = embeddedClient(path);
  t.teardown(() => client.close());
  const columns = await queryRows<{ name: string; type: string }>(client, "SELECT name, type FROM system.columns WHERE database = 'otel' AND table = 'otel_logs' ORDER BY position");
  const types = Object.fromEntries(columns.map((c) => [c.name, c.type]));
  t.match(types, {
    Timestamp: 'DateTime64(9)',
    TimestampTime: 'DateTime',
    TraceId: 'String',
    SpanId: 'String',
    TraceFlags: 'UInt8',
    SeverityText: 'LowCardinality(String)',
    SeverityNumber: 'UInt8',
    ServiceName: 'LowCardinality(String)',
    Body: 'String',
    ResourceSchemaUrl: 'LowCardinality(String)',
    ResourceAttributes: 'Map(LowCardinality(String), String)',
    ScopeSchemaUrl: 'LowCardinality(String)',
    ScopeName: 'String',
    ScopeVersion: 'LowCardinality(String)',
    ScopeAttributes: 'Map(LowCardinality(String), String)',
    LogAttributes: 'Map(LowCardinality(String), String)',
    EventName: 'String',
    TemplateId: 'UInt64',
    TemplateParams: 'Array(String)',
    '__otel_materialized_k8s.pod.name': 'LowCardinality(String)',
    '__otel_materialized_host.name': 'LowCardinality(String)',
  });
  const [ddl] = await queryRows<{ statement: string }>(client, 'SHOW CREATE TABLE otel.otel_logs');
  t.match(ddl!.statement, /TTL TimestampTime \+ toIntervalDay\(3\)/);
  t.match(ddl!.statement, /ORDER BY \(toStartOfFiveMinutes\(Timestamp\), ServiceName, Timestamp\)/);
  t.match(ddl!.statement, /ttl_only_drop_parts = 1/);
});
