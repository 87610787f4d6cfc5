import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { pino } from 'pino';
import { loadConfig, startDaemon } from '../src/daemon.js';
import { OtlpReceiver } from '../src/receivers/otlp/index.js';

/**
 * Accuracy where users read templates: each dataset is sent through a running daemon (OTLP/JSON,
 * the default templates settings with a set per service), the rows are read back from ClickHouse,
 * and each row's group is its CurrentTemplateId — the shipped SQL resolution — and its template
 * the Template column.
 */

export interface StoredRun {
  /** Records per request: 2,000 exercises the worker pool, 1 the inline path one record at a time. */
  perRequest: number;
  groups: string[];
  templates: string[];
}

export interface StoredDataset {
  name: string;
  messages: string[];
}

function otlpJson(service: string, messages: string[], first: number): string {
  const records = messages.map((m, i) => ({
    timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(first + i)),
    body: { stringValue: m },
    attributes: [{ key: 'line', value: { intValue: String(first + i) } }],
  }));
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeLogs: [{ scope: {}, logRecords: records }],
      },
    ],
  });
}

/** Runs every dataset through one daemon, in requests of each size, and reads back the resolved rows. */
export async function runThroughDaemon(
  datasets: StoredDataset[],
  sizes: number[] = [2000, 1],
): Promise<Map<string, StoredRun[]>> {
  const store = mkdtempSync(path.join(tmpdir(), 'otelhouse-accuracy-'));
  const config = loadConfig(
    {
      text: `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0, max_request_body_size: 67108864 } } }
processors:
  templates: { per_service: true }
  batch: { send_batch_size: 10000, timeout: 100ms }
exporters:
  clickhouse: { endpoint: "embedded://${store}" }
service:
  pipelines: { logs: { receivers: [otlp], processors: [templates, batch], exporters: [clickhouse] } }
  telemetry: { metrics: { address: 127.0.0.1:0 } }
`,
    },
    {},
  );
  const daemon = await startDaemon(config, pino({ level: 'silent' }));
  const port = (daemon.service.receivers.find((r) => r.component instanceof OtlpReceiver)!.component as OtlpReceiver)
    .http!.port;
  const client = createClient({ connection: createChdbConnection({ path: store }) } as Parameters<
    typeof createClient
  >[0]);
  const out = new Map<string, StoredRun[]>();
  try {
    for (const { name, messages } of datasets) {
      for (const perRequest of sizes) {
        const service = `${name}/${perRequest}`;
        for (let i = 0; i < messages.length; i += perRequest) {
          const res = await fetch(`http://127.0.0.1:${port}/v1/logs`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: otlpJson(service, messages.slice(i, i + perRequest), i),
          });
          if (res.status !== 200)
            throw new Error(`${service}: a request was answered ${res.status}: ${await res.text()}`);
        }
      }
    }
    // Exported once the logs insert and the templates insert that carries their lineage are both done.
    const total = datasets.reduce((s, d) => s + d.messages.length * sizes.length, 0);
    for (let waited = 0; ; waited += 100) {
      const stats = (await (await fetch(`http://127.0.0.1:${daemon.telemetryServer.port}/stats`)).json()) as {
        exporters: { clickhouse: { exported?: number } };
      };
      const exported = stats.exporters.clickhouse.exported ?? 0;
      if (exported >= total) break;
      if (waited > 120_000) throw new Error(`only ${exported} of ${total} records exported after 2 minutes`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.command({ query: 'SYSTEM RELOAD DICTIONARIES' });
    for (const { name } of datasets) {
      const runs: StoredRun[] = [];
      for (const perRequest of sizes) {
        const rs = await client.query({
          query:
            `SELECT toString(CurrentTemplateId) AS g, Template AS t FROM otel.otel_logs ` +
            `WHERE ServiceName = {service:String} ORDER BY toUInt32(LogAttributes['line'])`,
          query_params: { service: `${name}/${perRequest}` },
          format: 'JSONEachRow',
        });
        const rows = await rs.json<{ g: string; t: string }>();
        runs.push({ perRequest, groups: rows.map((r) => r.g), templates: rows.map((r) => r.t) });
      }
      out.set(name, runs);
    }
  } finally {
    await client.close();
    await daemon.stop();
    rmSync(store, { recursive: true, force: true });
  }
  return out;
}
