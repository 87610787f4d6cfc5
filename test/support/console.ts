import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { PROJECT_ROOT } from './cli.js';
import { ConsoleExtension } from '../../src/extensions/console/console.js';
import { JsonIngestReceiver } from '../../src/receivers/json_ingest/json-ingest-receiver.js';
import { startTestDaemon, tempDir, waitFor, type RunningDaemon } from './daemon.js';

export interface ConsoleDaemon extends RunningDaemon {
  store: string;
  ingestPort: number;
  consolePort(id?: string): number;
}

/**
 * A daemon with json_ingest and OTLP/HTTP → templates → batch → embedded ClickHouse, and the
 * console extensions `extensions` describes (YAML under `extensions:`, listed in order).
 */
export async function startConsoleDaemon(extensions = 'console: { endpoint: 127.0.0.1:0 }', listed = ['console']): Promise<ConsoleDaemon> {
  const store = `${tempDir('console')}/clickhouse`;
  const daemon = await startTestDaemon(`
receivers:
  json_ingest: { endpoint: 127.0.0.1:0 }
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
processors:
  templates: {}
  batch: { send_batch_size: 1000, timeout: 20ms }
exporters:
  clickhouse: { endpoint: "embedded://${store}" }
extensions:
${extensions.replace(/^/gm, '  ')}
service:
  extensions: [${listed.join(', ')}]
  pipelines:
    logs: { receivers: [json_ingest, otlp], processors: [templates, batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
  const ingestPort = (daemon.service.receivers.find((r) => r.id === 'json_ingest')!.component as JsonIngestReceiver).port;
  const consolePort = (id = 'console') => (daemon.service.extensions.find((e) => e.id === id)!.component as ConsoleExtension).port;
  return { ...daemon, store, ingestPort, consolePort };
}

export interface IngestEntry {
  message: string;
  service?: string;
  level?: string;
  timestamp?: string;
  metadata?: Record<string, unknown>;
  trace_id?: string;
  span_id?: string;
  host?: string;
  org?: string;
}

/** Posts entries to json_ingest; resolves once they are accepted (not yet stored). */
export async function ingest(d: ConsoleDaemon, entries: IngestEntry[]): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${d.ingestPort}/logs/ingest`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ logs: entries.map((e) => ({ org: 'acme', ...e })) }),
  });
  if (res.status !== 200) throw new Error(`json_ingest answered ${res.status}: ${await res.text()}`);
}

/** Records the clickhouse exporter has stored (logs and their templates both inserted). */
export async function exportedCount(d: ConsoleDaemon): Promise<number> {
  const stats = (await (await fetch(`http://127.0.0.1:${d.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { exported?: number } } };
  return stats.exporters.clickhouse.exported ?? 0;
}

export async function waitExported(d: ConsoleDaemon, n: number): Promise<void> {
  if (!(await waitFor(async () => (await exportedCount(d)) >= n, 30_000, 50))) throw new Error(`fewer than ${n} records were exported in 30 s`);
}

export async function api<T = unknown>(d: ConsoleDaemon, path: string, init: RequestInit = {}, id = 'console'): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${d.consolePort(id)}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the test looks at the text.
  }
  return { status: res.status, body: body as T };
}

/** A whole second near now that a test's times are counted back from. */
export const BASE_MS = Math.floor(Date.now() / 1000) * 1000;

/** An RFC 3339 time `secondsAgo` before BASE_MS, with nanoseconds `ns`. */
export function ago(secondsAgo: number, ns = 0): string {
  const iso = new Date(BASE_MS - secondsAgo * 1000).toISOString();
  return `${iso.slice(0, 19)}.${String(ns).padStart(9, '0')}Z`;
}

const CHROMIUM = '/usr/bin/chromium';
const CONSOLE_INDEX = join(PROJECT_ROOT, 'dist/console/index.html');

/** Why the web console's browser tests cannot run here, or false when they can. */
export const consoleBrowserMissing: string | false = !existsSync(CHROMIUM)
  ? `needs Debian's chromium at ${CHROMIUM} (apt-get install chromium)`
  : !existsSync(CONSOLE_INDEX)
    ? `needs the built console at ${CONSOLE_INDEX} (npm run build)`
    : false;

/** Debian's headless chromium, with no network of its own (no browser is downloaded). */
export function launchConsoleBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
