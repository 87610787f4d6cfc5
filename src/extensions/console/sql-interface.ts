import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { HeaderReader } from '../../pipeline/auth.js';
import { errorMessage } from '../../pipeline/errors.js';
import { HttpRequestError, readRequestBody } from '../../receivers/http.js';

/**
 * The read-only subset of ClickHouse's HTTP interface that @clickhouse/client, Grafana's ClickHouse
 * data source and `clickhouse-client --protocol http` use for reads: the query in `?query=` and/or
 * the body, `default_format`, `database`, `query_id`, `param_<name>` bound parameters, settings as
 * URL parameters, `/ping`. Every query runs with readonly=1 and the configured limits (a client may
 * ask for lower ones); writes, DDL and settings changes are refused with ClickHouse's codes, and
 * errors have ClickHouse's text format and X-ClickHouse-Exception-Code, which its clients parse.
 */

export interface SqlLimits {
  maxExecutionSeconds: number;
  maxResultRows: number;
  maxResultBytes: number;
}

/** An error in ClickHouse's own terms: code, name and message. */
export class ClickHouseStyleError extends Error {
  constructor(
    readonly code: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'ClickHouseStyleError';
  }
}

/** The HTTP status ClickHouse answers each error code with (its HTTPHandler's mapping, for the codes met here). */
function httpStatusFor(code: number): number {
  if (code === 516 || code === 194) return 401;
  if (code === 164 || code === 497 || code === 291) return 403;
  if (code === 60 || code === 81) return 404;
  if (
    [
      62, 27, 36, 115, 73, 47, 46, 43, 53, 16, 6, 26, 38, 41, 69, 70, 72, 113, 117, 130, 184, 190, 352, 386, 457,
    ].includes(code)
  )
    return 400;
  if (code === 210 || code === 209) return 503;
  return 500;
}

/**
 * Statements a read-only user may run; anything else is refused before it reaches the engine, which refuses it too
 * (readonly=1).
 */
const READ_STATEMENTS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS', 'EXPLAIN']);

/**
 * The first keyword of a query and whether it holds a second statement, skipping comments, string
 * literals and quoted identifiers (a ';' inside them ends nothing).
 */
export function inspectStatement(sql: string): { keyword: string; multiple: boolean } {
  let keyword = '';
  let ended = false;
  let multiple = false;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      i = sql.indexOf('\n', i);
      if (i < 0) break;
      continue;
    }
    if (c === '#' && (sql[i + 1] === ' ' || sql[i + 1] === '!')) {
      i = sql.indexOf('\n', i);
      if (i < 0) break;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (ended) {
      multiple = true;
      break;
    }
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < n && sql[i] !== c) i += sql[i] === '\\' ? 2 : 1;
      i++;
      if (!keyword) keyword = '?';
      continue;
    }
    if (c === ';') {
      ended = true;
      i++;
      continue;
    }
    if (!keyword && /[A-Za-z]/.test(c)) {
      const m = /^[A-Za-z_]+/.exec(sql.slice(i, i + 32))!;
      keyword = m[0].toUpperCase();
      i += m[0].length;
      continue;
    }
    if (!keyword && c !== '(') keyword = '?';
    i++;
  }
  return { keyword, multiple };
}

/** Settings that belong to the HTTP layer or the client's session, not to the query; accepted and not passed on. */
const IGNORED_PARAMS = new Set([
  'query',
  'database',
  'default_format',
  'query_id',
  'user',
  'password',
  'session_id',
  'session_timeout',
  'session_check',
  'compress',
  'decompress',
  'quota_key',
]);
const HTTP_LAYER_SETTINGS = new Set([
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_buffer_size',
  'http_wait_end_of_query',
  'http_native_compression_disable_checksumming_on_decompress',
  'cancel_http_readonly_queries_on_client_close',
  'add_http_cors_header',
]);
/** Limits a request may lower but not raise (0, ClickHouse's "no limit", means the configured one). */
const LIMIT_SETTINGS = new Set(['max_execution_time', 'max_result_rows', 'max_result_bytes']);
/** What a request may not set: they would lift the read-only guard. */
const FORBIDDEN_SETTINGS = new Set([
  'allow_ddl',
  'allow_introspection_functions',
  'allow_settings_after_format_in_insert',
  'log_queries',
  'log_query_threads',
]);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Content types ClickHouse sends for the common formats. */
function contentType(format: string): string {
  const f = format.toLowerCase();
  if (f.startsWith('json') || f === 'prettyjson') return 'application/json; charset=UTF-8';
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('csv')) return 'text/csv; charset=UTF-8; header=absent';
  if (
    f === 'native' ||
    f.startsWith('rowbinary') ||
    f === 'parquet' ||
    f === 'arrow' ||
    f === 'arrowstream' ||
    f === 'orc' ||
    f === 'avro'
  )
    return 'application/octet-stream';
  if (f.startsWith('xml')) return 'application/xml; charset=UTF-8';
  return 'text/plain; charset=UTF-8';
}

export interface SqlRequest {
  sql: string;
  database: string | undefined;
  format: string;
  queryId: string;
  settings: Record<string, string>;
  queryParams: Record<string, string>;
}

/**
 * The ClickHouse credentials a client sent (Basic auth, X-ClickHouse-Key, ?password=), offered to the authenticator as
 * a bearer token.
 */
export function clickHouseCredentials(req: IncomingMessage, url: URL): HeaderReader {
  return (name) => {
    const header = req.headers[name];
    const value = Array.isArray(header) ? header[0] : header;
    if (name !== 'authorization') return value;
    if (value && !/^basic /i.test(value)) return value;
    let key = firstHeader(req, 'x-clickhouse-key') ?? url.searchParams.get('password') ?? undefined;
    if (value && key === undefined) {
      const decoded = Buffer.from(value.slice(6).trim(), 'base64').toString('utf8');
      key = decoded.slice(decoded.indexOf(':') + 1);
    }
    return key ? `Bearer ${key}` : value;
  };
}

function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function readSqlRequest(req: IncomingMessage, url: URL, maxBodyBytes: number): Promise<SqlRequest> {
  const parts: string[] = [];
  const inUrl = url.searchParams.get('query');
  if (inUrl) parts.push(inUrl);
  if (req.method === 'POST') {
    const body = (await readRequestBody(req, maxBodyBytes, 'max_request_body_size')).toString('utf8');
    if (body.trim()) parts.push(body);
  }
  const sql = parts.join('\n').trim();
  if (!sql) throw new ClickHouseStyleError(62, 'SYNTAX_ERROR', 'Empty query');
  const database = url.searchParams.get('database') ?? firstHeader(req, 'x-clickhouse-database') ?? undefined;
  if (database !== undefined && database !== '' && !IDENTIFIER.test(database))
    throw new ClickHouseStyleError(81, 'UNKNOWN_DATABASE', `Database ${JSON.stringify(database)} does not exist`);
  const settings: Record<string, string> = {};
  const queryParams: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (key.startsWith('param_')) {
      queryParams[key.slice('param_'.length)] = value;
      continue;
    }
    if (IGNORED_PARAMS.has(key) || HTTP_LAYER_SETTINGS.has(key)) continue;
    if (!IDENTIFIER.test(key)) throw new ClickHouseStyleError(115, 'UNKNOWN_SETTING', `Unknown setting '${key}'`);
    if (key === 'readonly') {
      // Settings of the request are applied before readonly=1 is, as ClickHouse does for readonly=2.
      if (value === '1' || value === '2') continue;
      throw new ClickHouseStyleError(164, 'READONLY', "Cannot modify 'readonly' setting in readonly mode");
    }
    if (FORBIDDEN_SETTINGS.has(key))
      throw new ClickHouseStyleError(164, 'READONLY', `Cannot modify '${key}' setting in readonly mode`);
    if (LIMIT_SETTINGS.has(key) && !/^\d+(\.\d+)?$/.test(value))
      throw new ClickHouseStyleError(
        27,
        'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
        `Cannot parse ${JSON.stringify(value)} as the number of ${key}`,
      );
    settings[key] = value;
  }
  return {
    sql,
    database: database || undefined,
    format: url.searchParams.get('default_format') ?? firstHeader(req, 'x-clickhouse-format') ?? 'TabSeparated',
    queryId: url.searchParams.get('query_id') || randomUUID(),
    settings,
    queryParams,
  };
}

/**
 * The request's settings with the limits applied: the lower of the request's and the configured, then readonly=1 last,
 * so nothing after it can change a setting.
 */
export function effectiveSettings(request: Record<string, string>, limits: SqlLimits): Record<string, string | number> {
  const lower = (key: string, max: number) => {
    const asked = request[key] === undefined ? 0 : Number(request[key]);
    return asked > 0 ? Math.min(asked, max) : max;
  };
  const out: Record<string, string | number> = { ...request };
  out.max_execution_time = lower('max_execution_time', limits.maxExecutionSeconds);
  out.max_result_rows = lower('max_result_rows', limits.maxResultRows);
  out.max_result_bytes = lower('max_result_bytes', limits.maxResultBytes);
  delete out.readonly;
  out.readonly = 1;
  return out;
}

/** Refuses what is not a read before it reaches the engine; the engine, at readonly=1, refuses it too. */
export function checkReadOnly(sql: string): void {
  const { keyword, multiple } = inspectStatement(sql);
  if (multiple) throw new ClickHouseStyleError(62, 'SYNTAX_ERROR', 'Multi-statements are not allowed');
  if (keyword === 'SET') throw new ClickHouseStyleError(164, 'READONLY', 'Cannot modify settings in readonly mode');
  if (!READ_STATEMENTS.has(keyword))
    throw new ClickHouseStyleError(164, 'READONLY', 'Cannot execute query in readonly mode');
}

/** A client for one request and what to do with it afterwards. */
export interface SqlReader {
  client: ClickHouseClient;
  release(): Promise<void>;
  /** chDB: the session's current database is set with USE, in the same call. */
  useStatement: boolean;
}

/** Runs one request and writes ClickHouse's answer (or its error) to the response. */
export async function answerSql(
  request: SqlRequest,
  reader: SqlReader,
  limits: SqlLimits,
  res: ServerResponse,
  version: string,
): Promise<void> {
  try {
    checkReadOnly(request.sql);
    const settings = effectiveSettings(request.settings, limits);
    const query = reader.useStatement && request.database ? `USE \`${request.database}\`; ${request.sql}` : request.sql;
    const result = await reader.client.exec({
      query,
      query_id: request.queryId,
      query_params: request.queryParams,
      clickhouse_settings: { ...settings, default_format: request.format } as never,
    });
    res.writeHead(200, {
      'Content-Type': contentType(formatOf(request.sql) ?? request.format),
      'X-ClickHouse-Query-Id': request.queryId,
      'X-ClickHouse-Format': formatOf(request.sql) ?? request.format,
      'X-ClickHouse-Timezone': 'UTC',
      'X-ClickHouse-Server-Display-Name': 'otelhouse',
      ...(result.summary ? { 'X-ClickHouse-Summary': JSON.stringify(result.summary) } : {}),
    });
    await pipeline(result.stream as Readable, res);
  } catch (err) {
    if (res.headersSent) {
      res.destroy(err as Error);
      return;
    }
    writeClickHouseError(res, err, version, request.queryId);
  } finally {
    await reader.release();
  }
}

/** The FORMAT clause at the end of a query, which wins over default_format. */
function formatOf(sql: string): string | undefined {
  return /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i.exec(sql)?.[1];
}

export function writeClickHouseError(res: ServerResponse, err: unknown, version: string, queryId?: string): void {
  let code = 1002;
  let type = 'UNKNOWN_EXCEPTION';
  let message = errorMessage(err);
  if (err instanceof ClickHouseStyleError) {
    ({ code, type } = err);
  } else if (err instanceof HttpRequestError) {
    code = err.status === 413 ? 307 : 27;
    type = err.status === 413 ? 'TOO_LARGE_STRING_SIZE' : 'CANNOT_PARSE_INPUT_ASSERTION_FAILED';
  } else if (typeof (err as { code?: unknown }).code === 'string' && /^\d+$/.test((err as { code: string }).code)) {
    code = Number((err as { code: string }).code);
    type = (err as { type?: string }).type ?? type;
  }
  message = message
    .replace(/^default: /, '')
    .trim()
    .replace(/\.$/, '');
  const status = err instanceof HttpRequestError ? err.status : httpStatusFor(code);
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=UTF-8',
    'X-ClickHouse-Exception-Code': String(code),
    ...(queryId ? { 'X-ClickHouse-Query-Id': queryId } : {}),
  });
  res.end(`Code: ${code}. DB::Exception: ${message}. (${type}) (version ${version})\n`);
}
