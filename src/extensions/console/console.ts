import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ServerAuthenticator } from '../../pipeline/auth.js';
import type { ComponentContext, ComponentHealth, Extension } from '../../pipeline/component.js';
import { errorMessage } from '../../pipeline/errors.js';
import { StoreUnavailableError, type LogStore } from '../../pipeline/host.js';
import { resolveAuthenticator } from '../../receivers/auth.js';
import { HttpReceiverServer } from '../../receivers/http.js';
import type { ConsoleConfig } from './config.js';
import {
  ApiParameterError,
  parseHistogramQuery,
  parseLogsQuery,
  parseTailQuery,
  parseTemplateId,
  parseTemplateQuery,
  parseTemplatesQuery,
} from './params.js';
import { LogQueries, UnknownTemplateError } from './queries.js';
import {
  answerSql,
  ClickHouseStyleError,
  clickHouseCredentials,
  readSqlRequest,
  writeClickHouseError,
  type SqlLimits,
  type SqlReader,
} from './sql-interface.js';
import { StaticFiles } from './static-files.js';
import { Tail } from './tail.js';

/** Rows an API query may return at most; the API's own limits are far below it. */
const API_MAX_RESULT_ROWS = 100_000;
/** ClickHouse's error codes that mean the store cannot answer now, not that the request is wrong. */
const UNAVAILABLE_CODES = new Set(['159', '160', '209', '210', '241', '394', '396']);

function packageVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
}

/**
 * The console extension: on one endpoint, the read-only JSON query API (/api/v1/…), the web
 * console's files (/), and the read-only subset of ClickHouse's HTTP interface (POST /, GET
 * /?query=, /ping), all reading the store of one exporter through the host, with a client of its
 * own (see LogStore).
 */
export class ConsoleExtension implements Extension {
  private readonly server: HttpReceiverServer;
  private readonly files = new StaticFiles();
  private readonly version = packageVersion();
  private store: { id: string; store: LogStore } | undefined;
  private reader: Promise<ClickHouseClient> | undefined;
  private serverReaders = new Map<string, Promise<ClickHouseClient>>();
  private tail: Tail | undefined;
  private authenticator: ServerAuthenticator | undefined;
  private lastStoreError: string | undefined;

  constructor(
    private readonly config: ConsoleConfig,
    private readonly context: ComponentContext,
  ) {
    // The authenticator is another extension: looked up at start, when every extension exists.
    const authenticator: ServerAuthenticator | undefined = config.auth
      ? {
          authenticate: (header) =>
            this.authenticator ? this.authenticator.authenticate(header) : 'the console has not started',
        }
      : undefined;
    this.server = new HttpReceiverServer(
      { ...config, wait_for_room: 0 },
      context,
      'console',
      (req, res) => this.handle(req, res),
      authenticator,
    );
  }

  get port(): number {
    return this.server.port;
  }

  async start(): Promise<void> {
    const host = this.context.host;
    if (!host) throw new Error('the console extension runs inside the service (no host given)');
    this.authenticator = this.config.auth
      ? resolveAuthenticator(this.config.auth, { ...this.context, extensions: host.extensions() })
      : undefined;
    const stores = host.logStores();
    if (this.config.store !== undefined) {
      const store = stores.get(this.config.store);
      if (!store) {
        const exists = host.exporters().has(this.config.store);
        const why = exists ? 'does not store logs that can be read back' : 'is not used by any pipeline';
        const readable = [...stores.keys()].join(', ') || 'none';
        throw new Error(`store: exporter "${this.config.store}" ${why} (exporters that do: ${readable})`);
      }
      this.store = { id: this.config.store, store };
    } else if (stores.size === 1) {
      const [[id, store]] = [...stores];
      this.store = { id: id!, store: store! };
    } else {
      throw new Error(
        stores.size === 0
          ? 'no exporter of the pipelines stores logs the console can read (add a clickhouse exporter)'
          : `several exporters store logs (${[...stores.keys()].join(', ')}): name one in store:`,
      );
    }
    this.tail = new Tail((observer) => host.observeExports(this.store!.id, observer), this.config.tail_buffer);
    await this.server.start();
    this.context.logger.info(
      { endpoint: this.config.endpoint.replace(/:\d+$/, `:${this.server.port}`), store: this.store.id },
      'console listening (/api/v1, the web console at /, read-only SQL)',
    );
  }

  async shutdown(deadline: number): Promise<void> {
    this.tail?.close();
    await this.server.shutdown(deadline);
    const readers = [this.reader, ...this.serverReaders.values()];
    this.reader = undefined;
    this.serverReaders.clear();
    for (const r of readers) await r?.then((c) => c.close()).catch(() => undefined);
  }

  health(): ComponentHealth {
    return this.lastStoreError ? { status: 'degraded', detail: this.lastStoreError } : { status: 'ok' };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.route(req, res).catch((err: unknown) => {
      this.context.logger.error({ err: errorMessage(err), url: req.url }, 'console request failed');
      if (!res.headersSent) jsonError(res, 500, null, 'internal error');
      else res.destroy();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const path = url.pathname;
    if (path === '/api' || path.startsWith('/api/')) return this.api(req, res, url);
    if (path === '/ping' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    const sql =
      this.config.sql.enabled &&
      path === '/' &&
      (req.method === 'POST' || (req.method === 'GET' && url.searchParams.has('query')));
    if (sql) return this.sql(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    return this.files.serve(req, res, path === '/' ? '/index.html' : path);
  }

  private async api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET');
      return jsonError(res, 405, null, `${req.method} is not allowed: the API is read-only (GET)`);
    }
    const refusal = this.server.authenticate(req);
    if (refusal !== undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return jsonError(res, 401, null, refusal);
    }
    const path = url.pathname.replace(/\/+$/, '');
    const now = Date.now();
    try {
      if (path === '/api/v1/stats') return json(res, await this.context.host!.stats());
      if (path === '/api/v1/logs')
        return json(res, await (await this.queries()).searchLogs(parseLogsQuery(url.searchParams, now)));
      if (path === '/api/v1/logs/histogram')
        return json(res, await (await this.queries()).histogram(parseHistogramQuery(url.searchParams, now)));
      if (path === '/api/v1/templates')
        return json(res, await (await this.queries()).listTemplates(parseTemplatesQuery(url.searchParams, now)));
      const one = /^\/api\/v1\/templates\/([^/]+)$/.exec(path);
      if (one) {
        const id = parseTemplateId('id', decodeURIComponent(one[1]!));
        const range = parseTemplateQuery(url.searchParams, now);
        return json(res, await (await this.queries()).template(id, range.fromNs, range.toNs));
      }
      if (path === '/api/v1/tail') return await this.startTail(url, res, now);
      return jsonError(
        res,
        404,
        null,
        `no such endpoint: ${url.pathname} (see /api/v1/logs, /api/v1/logs/histogram, /api/v1/templates, ` +
          `/api/v1/templates/{id}, /api/v1/tail, /api/v1/stats)`,
      );
    } catch (err) {
      this.answerApiError(res, err);
    }
  }

  private async startTail(url: URL, res: ServerResponse, now: number): Promise<void> {
    const filters = parseTailQuery(url.searchParams, now);
    let templateIds: Set<string> | undefined;
    if (filters.template !== undefined) {
      // The stored ids of the template's lineage, once: records to come carry one of them (or a newer template).
      const queries = await this.queries();
      templateIds = new Set(await queries.lineageIds(filters.template));
    }
    this.tail!.subscribe({ ...filters, templateIds }, res);
  }

  private answerApiError(res: ServerResponse, err: unknown): void {
    if (err instanceof ApiParameterError) return jsonError(res, 400, err.parameter, err.message);
    if (err instanceof UnknownTemplateError) return jsonError(res, 404, 'id', err.message);
    const message = errorMessage(err);
    const code = String((err as { code?: unknown }).code ?? '');
    if (err instanceof StoreUnavailableError || UNAVAILABLE_CODES.has(code) || isConnectionError(err)) {
      this.noteStoreError(message);
      return jsonError(
        res,
        503,
        null,
        code === '159'
          ? `the query took longer than query_timeout (${this.config.query_timeout / 1000}s): narrow the time range ` +
              `or add filters`
          : `the store cannot answer now: ${message}`,
      );
    }
    this.context.logger.error({ err: message }, 'console query failed');
    jsonError(res, 500, null, `the query failed: ${message}`);
  }

  private noteStoreError(message: string): void {
    this.lastStoreError = message;
    // A failed reader (a server that went away) is opened again by the next request.
    this.reader = undefined;
  }

  private async queries(): Promise<LogQueries> {
    const { store } = this.store!;
    this.reader ??= store.openReader().catch((err: unknown) => {
      this.reader = undefined;
      throw err;
    });
    const client = await this.reader;
    this.lastStoreError = undefined;
    return new LogQueries(client, store.tables, {
      maxExecutionSeconds: this.config.query_timeout / 1000,
      maxResultRows: API_MAX_RESULT_ROWS,
      maxThreads: this.config.query_threads,
    });
  }

  private async sql(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const refusal = this.authenticator?.authenticate(clickHouseCredentials(req, url));
    if (refusal !== undefined) {
      req.resume();
      return writeClickHouseError(
        res,
        new ClickHouseStyleError(516, 'AUTHENTICATION_FAILED', `Authentication failed: ${refusal}`),
        this.version,
      );
    }
    let request;
    try {
      request = await readSqlRequest(req, url, this.config.max_request_body_size);
    } catch (err) {
      return writeClickHouseError(res, err, this.version);
    }
    const limits: SqlLimits = {
      maxExecutionSeconds: this.config.sql.max_execution_time / 1000,
      maxResultRows: this.config.sql.max_result_rows,
      maxResultBytes: this.config.sql.max_result_bytes,
    };
    let reader: SqlReader;
    try {
      reader = await this.sqlReader(request.database);
    } catch (err) {
      return writeClickHouseError(
        res,
        new ClickHouseStyleError(210, 'NETWORK_ERROR', `the store cannot be read now: ${errorMessage(err)}`),
        this.version,
        request.queryId,
      );
    }
    await answerSql(request, reader, limits, res, this.version);
  }

  /**
   * chDB keeps a query's settings on its session: each request gets a session of its own, closed
   * after it. A server's client is stateless (settings travel with each request): one per database.
   */
  private async sqlReader(database: string | undefined): Promise<SqlReader> {
    const { store } = this.store!;
    if (store.sessionSettings) {
      const client = await store.openReader();
      return { client, useStatement: true, release: () => client.close() };
    }
    const key = database ?? store.tables.database;
    let reader = this.serverReaders.get(key);
    if (!reader) {
      reader = store.openReader(database).catch((err: unknown) => {
        this.serverReaders.delete(key);
        throw err;
      });
      this.serverReaders.set(key, reader);
    }
    return { client: await reader, useStatement: false, release: async () => undefined };
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return (
    typeof code === 'string' &&
    /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|EPIPE|UND_ERR)/.test(code)
  );
}

function json(res: ServerResponse, body: unknown): void {
  res
    .writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
    .end(JSON.stringify(body));
}

function jsonError(res: ServerResponse, status: number, parameter: string | null, message: string): void {
  res
    .writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
    .end(JSON.stringify({ error: { parameter, message } }));
}
