import { createSocket } from 'node:dgram';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { encodeLogsRequest, encodeLogsRequestJson } from '../../src/otlp/index.js';
import { newAttributes, newLogRecord, type LogBatch } from '../../src/pipeline/model.js';
import { JsonIngestReceiver } from '../../src/receivers/json_ingest/json-ingest-receiver.js';
import { SyslogReceiver } from '../../src/receivers/syslog/syslog-receiver.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../support/daemon.js';
import { grpcExport } from '../support/otlp-requests.js';

const dir = tempDir('late-times');
const YAML = `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:0 }
      http: { endpoint: 127.0.0.1:0 }
  json_ingest: { endpoint: 127.0.0.1:0 }
  syslog: { udp: { listen_address: 127.0.0.1:0 } }
processors:
  batch: { send_batch_size: 100, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${dir}/store", ttl: 24h }
service:
  pipelines:
    logs: { receivers: [otlp, json_ingest, syslog], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;

const MAX_FIXED64 = 2n ** 64n - 1n;
const HOUR_NS = 3_600_000_000_000n;

function oneRecord(service: string, body: string, time: bigint, observed: bigint): LogBatch {
  const resource = newAttributes();
  resource['service.name'] = service;
  const r = newLogRecord();
  r.timeUnixNano = time;
  r.observedTimeUnixNano = observed;
  r.body = body;
  return {
    resourceLogs: [
      {
        resource: { attributes: resource, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeLogs: [{ scope: { name: 's', version: '', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', logRecords: [r] }],
      },
    ],
  };
}

t.test('times past int64 nanoseconds are stored as the observed time, not wrapped to 1969 and deleted by the TTL', async (t) => {
  const daemon = await startTestDaemon(YAML);
  t.teardown(() => daemon.stop());
  const store = embeddedClient(`${dir}/store`);
  t.teardown(() => store.close());
  const ingestPort = (daemon.service.receivers.find((r) => r.id === 'json_ingest')!.component as JsonIngestReceiver).port;
  const syslogPort = (daemon.service.receivers.find((r) => r.id === 'syslog')!.component as SyslogReceiver).udpPort;
  const sentAt = BigInt(Date.now()) * 1_000_000n;
  const observed = sentAt - HOUR_NS;
  const post = (port: number, path: string, contentType: string, body: Uint8Array | string) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'Content-Type': contentType }, body });

  t.equal((await post(daemon.httpPort, '/v1/logs', 'application/x-protobuf', encodeLogsRequest(oneRecord('late', 'http protobuf', MAX_FIXED64, observed)))).status, 200);
  t.equal((await post(daemon.httpPort, '/v1/logs', 'application/json', encodeLogsRequestJson(oneRecord('late', 'http json', 2n ** 63n, observed)))).status, 200);
  t.equal((await grpcExport(daemon.grpcPort, encodeLogsRequest(oneRecord('late', 'grpc', MAX_FIXED64, observed)))).code, grpc.status.OK);
  t.equal((await grpcExport(daemon.grpcPort, encodeLogsRequest(oneRecord('late-observed', 'observed too', MAX_FIXED64, MAX_FIXED64)))).code, grpc.status.OK);
  t.equal((await post(ingestPort, '/logs/ingest', 'application/json', JSON.stringify({ org: 'o', service: 'late-ingest', message: 'json_ingest', timestamp: '9999-12-31T23:59:59Z' }))).status, 200);
  const udp = createSocket('udp4');
  await new Promise<void>((resolve, reject) => udp.send('<14>1 9999-12-31T23:59:59Z host late-syslog - - - syslog', syslogPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  udp.close();
  // A record really older than the TTL, as a control: it shows the TTL does delete.
  t.equal((await grpcExport(daemon.grpcPort, encodeLogsRequest(oneRecord('expired', 'old', sentAt - 48n * HOUR_NS, sentAt - 48n * HOUR_NS)))).code, grpc.status.OK);

  const rows = async () =>
    queryRows<{ ServiceName: string; Body: string; ns: string }>(store, 'SELECT ServiceName, Body, toString(toUnixTimestamp64Nano(Timestamp)) AS ns FROM otel.otel_logs ORDER BY Body');
  // The control may already be gone: a TTL merge can drop its part as soon as it is written.
  t.ok(await waitFor(async () => (await rows()).filter((r) => r.Body !== 'old').length === 6), 'the 6 records with late times are stored');
  await store.command({ query: 'OPTIMIZE TABLE otel.otel_logs FINAL' });
  const stored = await rows();
  t.same(
    stored.map((r) => r.Body),
    ['grpc', 'http json', 'http protobuf', 'json_ingest', 'observed too', 'syslog'],
    'after a merge applies the TTL, only the control record is gone',
  );
  for (const r of stored) {
    const ns = BigInt(r.ns);
    if (r.ServiceName === 'late') t.equal(ns, observed, `${r.Body}: stored at its observed time`);
    else t.ok(ns >= sentAt - 60_000_000_000n && ns <= BigInt(Date.now()) * 1_000_000n, `${r.Body}: stored at the time of receipt (${new Date(Number(ns / 1_000_000n)).toISOString()})`);
  }

  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  const counted = (receiver: string, transport: string) =>
    Number(new RegExp(`otelhouse_receiver_unrepresentable_timestamps_total\\{receiver="${receiver}",transport="${transport}"\\} (\\d+)`).exec(metrics)?.[1]);
  t.equal(counted('otlp', 'http'), 2, 'OTLP/HTTP counts its two late times');
  t.equal(counted('otlp', 'grpc'), 3, 'OTLP/gRPC counts its three');
  t.equal(counted('json_ingest', 'http'), 1, 'json_ingest counts its one');
  t.equal(counted('syslog', 'udp'), 1, 'syslog counts its one');
});
