import { createHash } from 'node:crypto';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import t from 'tap';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../support/daemon.js';
import { sdkExporter } from '../support/sdk.js';

function yaml(path: string): string {
  return `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:0" }
      http: { endpoint: "127.0.0.1:0" }
processors:
  resourcedetection: { detectors: [env, k8s], override: false }
  resource:
    attributes:
      - { key: deployment.environment.name, value: e2e, action: upsert }
      - { key: process.pid, action: delete }
  parse:
    body_field: msg
    timestamp: { layout: "%Y-%m-%dT%H:%M:%S.%fZ", field: ts }
  filter:
    min_severity: INFO
    logs:
      log_record:
        - IsMatch(body, "^healthcheck")
  attributes:
    actions:
      - { key: user.id, action: hash }
      - { key: internal.debug, action: delete }
      - { key: http.status, action: convert, converted_type: int }
      - { key: pipeline, value: otelhouse, action: insert }
  redaction: {}
  batch: { send_batch_size: 100, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${path}" }
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [resourcedetection, resource, parse, filter, attributes, redaction, batch]
      exporters: [clickhouse]
  telemetry:
    metrics: { address: "127.0.0.1:0" }
`;
}

interface Row {
  Body: string;
  SeverityNumber: number;
  SeverityText: string;
  ts: string;
  ResourceAttributes: Record<string, string>;
  LogAttributes: Record<string, string>;
}

t.test('SDK → resourcedetection → resource → parse → filter → attributes → redaction → batch → ClickHouse', async (t) => {
  const saved = { ...process.env };
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  Object.assign(process.env, { OTEL_RESOURCE_ATTRIBUTES: 'team=payments,service.name=ignored', K8S_NODE_NAME: 'node-e2e', K8S_POD_NAME: 'otelhouse-agent-x1' });

  const path = tempDir('processors');
  const daemon = await startTestDaemon(yaml(path));
  t.teardown(() => daemon.stop());

  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'e2e-svc', 'process.pid': 4242 }),
    processors: [new BatchLogRecordProcessor({ exporter: sdkExporter('grpc', daemon), maxExportBatchSize: 50, scheduledDelayMillis: 20 })],
  });
  const logger = provider.getLogger('e2e');
  logger.emit({ body: '{"msg":"payment accepted","level":"info","ts":"2024-03-05T14:22:01.250Z","order":{"id":42},"card":"4111 1111 1111 1111"}', attributes: { seq: 1 } });
  logger.emit({ body: 'healthcheck ok', severityNumber: SeverityNumber.INFO, severityText: 'INFO', attributes: { seq: 2 } });
  logger.emit({ body: 'debug noise', severityNumber: SeverityNumber.DEBUG, severityText: 'DEBUG', attributes: { seq: 3 } });
  logger.emit({
    body: 'login failed for ann@example.com from 203.0.113.9 password=hunter2',
    severityNumber: SeverityNumber.WARN,
    severityText: 'WARN',
    attributes: { seq: 4, 'user.id': 'u-1', 'http.status': '0401', 'internal.debug': 'x' },
  });
  logger.emit({ body: 'level=error msg="db down" host=db-1', attributes: { seq: 5 } });
  await provider.forceFlush();
  await provider.shutdown();

  const client = embeddedClient(path);
  t.teardown(() => client.close());
  const stored = await waitFor(async () => {
    const [row] = await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs');
    return Number(row?.n) >= 3;
  });
  t.ok(stored, 'the kept records arrive');
  const rows = await queryRows<Row>(
    client,
    `SELECT Body, SeverityNumber, SeverityText, toString(toUnixTimestamp64Nano(Timestamp)) AS ts, ResourceAttributes, LogAttributes
     FROM otel.otel_logs WHERE ServiceName = 'e2e-svc' ORDER BY toUInt64(LogAttributes['seq'])`,
  );
  t.equal(rows.length, 3, 'the healthcheck (filter condition) and the debug line (min_severity) were dropped');

  const resource = { 'service.name': 'e2e-svc', team: 'payments', 'k8s.node.name': 'node-e2e', 'k8s.pod.name': 'otelhouse-agent-x1', 'deployment.environment.name': 'e2e' };
  for (const r of rows) t.same(r.ResourceAttributes, resource, 'resource: detected (without overriding service.name), upserted, process.pid deleted');

  const [json, login, logfmt] = rows as [Row, Row, Row];
  t.equal(json.Body, 'payment accepted', 'parse: body_field became the body');
  t.same([json.SeverityNumber, json.SeverityText], [9, 'info'], 'parse: severity from the level field');
  t.equal(json.ts, (BigInt(Date.UTC(2024, 2, 5, 14, 22, 1, 250)) * 1_000_000n).toString(), 'parse: timestamp from the ts field');
  t.same(json.LogAttributes, { seq: '1', level: 'info', ts: '2024-03-05T14:22:01.250Z', 'order.id': '42', card: '****', pipeline: 'otelhouse' }, 'parse flattened the JSON; redaction masked the card');

  t.equal(login.Body, 'login failed for **** from **** password=****', 'redaction: e-mail, IP and password masked in the body');
  t.same(
    login.LogAttributes,
    { seq: '4', 'user.id': createHash('sha256').update('u-1').digest('hex'), 'http.status': '401', pipeline: 'otelhouse' },
    'attributes: hashed, deleted, converted ("0401" → 401), inserted',
  );

  t.same([logfmt.Body, logfmt.SeverityNumber, logfmt.SeverityText], ['db down', 17, 'error'], 'parse: logfmt with msg as the body, severity inferred');
  t.equal(logfmt.LogAttributes.host, 'db-1');

  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_processor_filter_dropped_log_records_total\{processor="filter",rule="min_severity"\} 1/);
  t.match(metrics, /otelhouse_processor_filter_dropped_log_records_total\{processor="filter",rule="log_record"\} 1/);
  for (const detector of ['email', 'ipv4', 'password', 'credit_card']) {
    t.match(metrics, new RegExp(`otelhouse_processor_redaction_masked_total\\{processor="redaction",detector="${detector}"\\} 1`), `masked ${detector} counted`);
  }
  t.match(metrics, /otelhouse_processor_parse_log_records_total\{processor="parse",result="json"\} 1/);
  t.match(metrics, /otelhouse_processor_parse_log_records_total\{processor="parse",result="logfmt"\} 1/);
  t.notMatch(metrics, /otelhouse_processor_convert_failed_total\{[^}]*\} [1-9]/, 'no convert failed');
  t.notMatch(metrics, /hunter2|ann@example|4111 1111/, 'no masked value reaches /metrics');
  const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { processors: Record<string, Record<string, number>> };
  t.equal(stats.processors.filter!.dropped, 2, '/stats counts the drops');
});
