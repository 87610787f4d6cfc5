import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'zstd-napi';
import { createChdbConnection } from 'chdb/connection';

/**
 * A test stand-in for a ClickHouse server's HTTP interface: no ClickHouse server can run on this
 * machine, so this answers the subset @clickhouse/client and the exporter use (ping, queries and
 * commands in the body, inserts with the statement in the URL and the data in the body or both in
 * the body, settings as URL parameters, compressed request bodies) by executing every statement
 * on chDB in this process. Faults can be injected to show that the exporter retries and stores
 * nothing twice.
 */

export interface FrontFault {
  /** exception: a ClickHouse error answer (HTTP 500, `Code: N. DB::Exception: … (NAME)`), as a server sends it. */
  kind: 'status503' | 'drop' | 'delay' | 'exception';
  /** How many of the following matching requests it applies to. */
  count: number;
  delayMs?: number;
  /** Execute the statement before failing: "the server stored it but the answer was lost". */
  afterExecute?: boolean;
  /** Only requests whose SQL matches. */
  match?: RegExp;
  /** For exception: the error code and name, e.g. 252 and TOO_MANY_PARTS. */
  code?: number;
  name?: string;
}

/** URL parameters that are not ClickHouse settings. */
const NOT_SETTINGS = new Set(['query', 'database', 'query_id', 'session_id', 'default_format', 'user', 'password', 'compress', 'decompress', 'enable_http_compression', 'wait_end_of_query', 'role']);

type ChdbConnection = ReturnType<typeof createChdbConnection>;

export class ClickHouseHttpFront {
  requests = 0;
  /** Requests by their body's Content-Encoding ('' for none). */
  readonly encodings = new Map<string, number>();
  private readonly faults: FrontFault[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  private server: Server | undefined;
  private port = 0;

  private constructor(private readonly connection: ChdbConnection) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: { path: string; port?: number }): Promise<ClickHouseHttpFront> {
    const front = new ClickHouseHttpFront(createChdbConnection({ path: options.path }));
    front.server = await front.listen(options.port ?? 0);
    front.port = (front.server.address() as AddressInfo).port;
    return front;
  }

  /** An outage: open connections are cut and new ones refused until comeBack(). */
  async goAway(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again, on the same port. */
  async comeBack(): Promise<void> {
    this.server ??= await this.listen(this.port);
  }

  private async listen(port: number): Promise<Server> {
    // A client that goes away mid-request (a daemon killed while it sends) ends that request only.
    const server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return server;
  }

  inject(fault: FrontFault): void {
    this.faults.push({ ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Runs SQL on the chDB session directly (for assertions); returns the output text. */
  async query(sql: string): Promise<string> {
    const result = await this.serialised(() => this.connection.chdb.queryAsync(sql, { format: 'TSV' }));
    return result.text();
  }

  async close(): Promise<void> {
    await this.goAway();
    await this.queue.catch(() => undefined);
    await this.connection.close();
  }

  /** chDB runs one statement at a time per session here, as a server would for one connection. */
  private serialised<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private takeFault(sql: string): FrontFault | undefined {
    const fault = this.faults.find((f) => f.count > 0 && (!f.match || f.match.test(sql)));
    if (fault) fault.count--;
    return fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const url = new URL(req.url ?? '/', 'http://front');
    if (url.pathname === '/ping') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('Ok.\n');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const encoding = req.headers['content-encoding'] ?? '';
    this.encodings.set(encoding, (this.encodings.get(encoding) ?? 0) + 1);
    if (encoding === 'zstd') body = Buffer.from(zstdDecompress(body));
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    else if (req.headers['content-encoding'] === 'br') body = brotliDecompressSync(body);
    const urlQuery = url.searchParams.get('query');
    const text = urlQuery === null ? body.toString('utf8') : '';
    const sql = urlQuery ?? fromInput(text);
    const data = urlQuery !== null && body.length > 0 ? body : undefined;
    const settings: Record<string, string> = {};
    for (const [k, v] of url.searchParams) if (!NOT_SETTINGS.has(k)) settings[k] = v;
    // A server's max_query_size counts the query, not input()'s data, which is in the query here.
    if (urlQuery === null && sql !== text) settings.max_query_size = String(Buffer.byteLength(sql) + 1024);
    const database = url.searchParams.get('database');
    const statement = database && database !== 'default' ? `USE ${database}; ${sql}` : sql;

    const fault = this.takeFault(sql);
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
    if (fault && fault.kind !== 'delay' && !fault.afterExecute) {
      this.fail(res, fault);
      return;
    }
    try {
      const result = await this.serialised(async () => {
        try {
          const r = await this.connection.exec({ query: statement, clickhouse_settings: settings, values: data ? Readable.from([data.toString('utf8')]) : undefined });
          const out: Buffer[] = [];
          for await (const chunk of r.stream) out.push(Buffer.from(chunk as Uint8Array));
          return { body: Buffer.concat(out), summary: r.summary, queryId: r.query_id };
        } finally {
          await this.resetSettings(settings);
        }
      });
      if (fault && fault.kind !== 'delay') {
        this.fail(res, fault);
        return;
      }
      res.writeHead(200, {
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Query-Id': result.queryId,
        'X-ClickHouse-Summary': JSON.stringify(result.summary ?? {}),
      });
      res.end(result.body);
    } catch (err) {
      const message = errorText(err);
      const code = /Code: (\d+)/.exec(message)?.[1] ?? '1000';
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': code });
      res.end(`${message}\n`);
    }
  }

  /**
   * chDB SETs a query's settings on the session, where they would outlive the request: a
   * server applies URL settings to their query only, so they go back to their defaults.
   */
  private async resetSettings(settings: Record<string, string>): Promise<void> {
    const names = Object.keys(settings).filter((k) => /^\w+$/.test(k));
    if (names.length > 0) await this.connection.chdb.queryAsync(`SET ${names.map((k) => `${k} = DEFAULT`).join(', ')}`);
  }

  private fail(res: ServerResponse, fault: FrontFault): void {
    if (fault.kind === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (fault.kind === 'exception') {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': String(fault.code) });
      res.end(`Code: ${fault.code}. DB::Exception: injected by the test front. (${fault.name}) (version 26.1.1.1)\n`);
      return;
    }
    res.writeHead(503, { 'Content-Type': 'text/plain' }).end('Service Unavailable');
  }
}

/**
 * A server reads the rest of a body after `… FROM input('structure') FORMAT F` as input()'s data;
 * chDB has no body to read, so the same rows go in as a format() literal. The exporter's rows
 * escape `$`, so they cannot end the $$…$$ literal.
 */
function fromInput(sql: string): string {
  const input = /FROM input\('((?:[^'\\]|\\.)*)'\) FORMAT (\w+)\n/.exec(sql);
  if (!input) return sql;
  const data = sql.slice(input.index + input[0].length);
  return `${sql.slice(0, input.index)}FROM format(${input[2]}, '${input[1]}', $$${data}$$)`;
}

/** chDB's own message ("Code: 60. DB::Exception: …") is what a server would send. */
function errorText(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error && !/^Code: \d+/.test(e.message)) e = e.cause;
  return e instanceof Error ? e.message : String(err);
}
