import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { freePort } from './ports.js';
import { numberedBatch } from './otlp-requests.js';

export interface ChildDaemonConfig {
  configFile: string;
  httpPort: number;
  telemetryPort: number;
}

/**
 * Writes a config for a daemon run as a child process: an OTLP/HTTP receiver and the telemetry
 * endpoints on free ports, and `body` (processors, exporters, service.pipelines) as given;
 * `httpReceiver` adds keys to the receiver's http block, `protocols` more protocols (`grpc: {…}`).
 */
export async function childDaemonConfig(dir: string, body: string, httpReceiver = '', protocols = ''): Promise<ChildDaemonConfig> {
  const [httpPort, telemetryPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'otelhouse.yaml');
  writeFileSync(
    configFile,
    `receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort}${httpReceiver ? `, ${httpReceiver}` : ''} }
${protocols ? `      ${protocols}\n` : ''}${body.trim()}
  telemetry:
    metrics: { address: 127.0.0.1:${telemetryPort} }
`,
  );
  return { configFile, httpPort, telemetryPort };
}

/** Whether the long variants of the fault tests run (`npm run test:faults`). */
export const LONG_FAULTS = process.env.OTELHOUSE_FAULTS === 'long';

/**
 * Sends uniquely numbered logs over OTLP/HTTP protobuf from several concurrent senders and keeps
 * account of what the daemon acknowledged. A refused request (429/503: not accepted) is sent
 * again with the same numbers, as an SDK would; so is one whose connection was refused (it never
 * reached the daemon). A request whose answer was lost otherwise (the daemon died mid-request) is
 * abandoned: it may or may not be stored, and its numbers are never sent again.
 */
export class NumberedLoad {
  readonly acked: number[] = [];
  /** First numbers of requests abandoned with an unknown outcome. */
  readonly abandoned: number[] = [];
  readonly refusals = new Map<number, number>();
  retryAfterSeen = false;
  private next = 0;
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly o: { senders: number; recordsPerRequest: number; total: number; refusedPauseMs?: number; body?: (first: number, count: number) => Uint8Array },
  ) {}

  get ackedRecords(): number {
    return this.acked.length * this.o.recordsPerRequest;
  }

  get recordsPerRequest(): number {
    return this.o.recordsPerRequest;
  }

  /** Numbers below this were handed to a sender. */
  get sent(): number {
    return this.next;
  }

  get done(): boolean {
    return this.next >= this.o.total;
  }

  start(): this {
    this.running = Promise.all(Array.from({ length: this.o.senders }, () => this.sender())).then(() => undefined);
    return this;
  }

  /** Resolves once every sender has finished (all numbers sent, or stop() called). */
  finished(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.finished();
  }

  /** Every acknowledged log number. */
  ackedSeqs(): number[] {
    return this.acked.flatMap((first) => Array.from({ length: this.o.recordsPerRequest }, (_, i) => first + i));
  }

  private async sender(): Promise<void> {
    const n = this.o.recordsPerRequest;
    while (!this.stopping && this.next < this.o.total) {
      const first = this.next;
      this.next += n;
      const body = this.o.body?.(first, n) ?? encodeLogsRequest(numberedBatch(first, n));
      for (;;) {
        const outcome = await this.post(body);
        if (outcome === 'acked') {
          this.acked.push(first);
          break;
        }
        if (outcome === 'lost') {
          this.abandoned.push(first);
          break;
        }
        if (this.stopping) return;
        await new Promise((r) => setTimeout(r, outcome === 'refused' ? (this.o.refusedPauseMs ?? 100) : 200));
      }
    }
  }

  private async post(body: Uint8Array): Promise<'acked' | 'refused' | 'unreachable' | 'lost'> {
    try {
      const res = await fetch(this.url, { method: 'POST', body, headers: { 'Content-Type': 'application/x-protobuf' } });
      await res.arrayBuffer();
      if (res.status === 200) return 'acked';
      this.refusals.set(res.status, (this.refusals.get(res.status) ?? 0) + 1);
      if (res.headers.get('retry-after')) this.retryAfterSeen = true;
      if (res.status === 429 || res.status === 503) return 'refused';
      throw new Error(`unexpected answer ${res.status}`);
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'ECONNREFUSED') return 'unreachable';
      if ((err as Error).message.startsWith('unexpected answer')) throw err;
      return 'lost';
    }
  }
}

/** The highest RSS a process reached, sampled from /proc (VmHWM: the kernel's own peak). */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface StoredCounts {
  /** Rows whose number was acknowledged, and how many distinct numbers among them. */
  ackedRows: number;
  ackedDistinct: number;
  /** All rows, and distinct numbers among them. */
  rows: number;
  distinct: number;
  /** Rows with a number that was never sent. */
  unknown: number;
}

/** Counts what the logs table holds of a NumberedLoad's numbers. */
export async function storedCounts(client: ClickHouseClient, load: NumberedLoad, table = 'otel.otel_logs'): Promise<StoredCounts> {
  const n = load.recordsPerRequest;
  // Requests carry whole blocks of numbers: a row was acknowledged when its block was.
  const acked = `(${load.acked.map((first) => first / n).join(',') || 'NULL'})`;
  const query = `SELECT toString(countIf(block IN ${acked})) AS ackedRows, toString(uniqExactIf(seq, block IN ${acked})) AS ackedDistinct,
            toString(count()) AS rows, toString(uniqExact(seq)) AS distinct, toString(countIf(seq >= ${load.sent})) AS unknown
     FROM (SELECT toUInt64(LogAttributes['seq']) AS seq, intDiv(seq, ${n}) AS block FROM ${table})`;
  const rs = await client.query({ query, format: 'JSONEachRow', clickhouse_settings: { max_query_size: '100000000' } });
  const [r] = await rs.json<Record<keyof StoredCounts, string>>();
  return { ackedRows: Number(r!.ackedRows), ackedDistinct: Number(r!.ackedDistinct), rows: Number(r!.rows), distinct: Number(r!.distinct), unknown: Number(r!.unknown) };
}
