import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { loadConfig, startDaemon, type Daemon } from '../../src/daemon.js';
import { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `otelhouse-${prefix}-`));
}

export interface RunningDaemon extends Daemon {
  grpcPort: number;
  httpPort: number;
  telemetryPort: number;
}

/** Starts a daemon in this process from YAML; listen on port 0 to get free ports. */
export async function startTestDaemon(yaml: string): Promise<RunningDaemon> {
  const config = loadConfig({ text: yaml }, {});
  const daemon = await startDaemon(config, pino({ level: process.env.OTELHOUSE_TEST_LOG_LEVEL ?? 'silent' }));
  const otlp = daemon.service.receivers.find((r) => r.component instanceof OtlpReceiver)?.component as OtlpReceiver | undefined;
  return { ...daemon, grpcPort: otlp?.grpc?.port ?? 0, httpPort: otlp?.http?.port ?? 0, telemetryPort: daemon.telemetryServer.port };
}

/** A client on an embedded store this process already has open (chDB shares one engine per path). */
export function embeddedClient(path: string): ClickHouseClient {
  return createClient({ connection: createChdbConnection({ path }) } as Parameters<typeof createClient>[0]);
}

export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

/** Polls until fn returns true or the time is up; returns the last value of fn. */
export async function waitFor(fn: () => Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function pipelineYaml(options: { endpoint: string; exporterExtra?: string; batch?: string }): string {
  return `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 1048576
processors:
  batch:
    ${options.batch ?? 'send_batch_size: 500\n    timeout: 100ms'}
exporters:
  clickhouse:
    endpoint: ${options.endpoint}
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 500ms
${options.exporterExtra ?? ''}
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [clickhouse]
  telemetry:
    metrics:
      address: 127.0.0.1:0
`;
}

/**
 * A config with one receiver (its YAML, starting with its id), the batch processor and a
 * clickhouse exporter (the inside of their flow maps), telemetry on a free port.
 */
export function oneReceiverYaml(o: { receiver: string; batch: string; clickhouse: string }): string {
  const receiverId = o.receiver.trimStart().split(':')[0]!;
  return `
receivers:
${o.receiver.replace(/^/gm, '  ')}
processors:
  batch: { ${o.batch} }
exporters:
  clickhouse: { ${o.clickhouse} }
service:
  pipelines:
    logs: { receivers: [${receiverId}], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;
}

/** json_ingest → templates (the inside of its flow map) → batch → embedded ClickHouse at `path`. */
export function templatesPipelineYaml(path: string, templates: string): string {
  return `
receivers:
  json_ingest: { endpoint: 127.0.0.1:0 }
processors:
  templates: { ${templates} }
  batch: { send_batch_size: 500, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${path}" }
service:
  pipelines:
    logs: { receivers: [json_ingest], processors: [templates, batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;
}
