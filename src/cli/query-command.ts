import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ServiceConfig } from '../config/loader.js';
import { parseHostPort } from '../config/types.js';
import { parseEndpoint, type ClickHouseExporterConfig } from '../exporters/clickhouse/config.js';
import { openClient } from '../exporters/clickhouse/exporter.js';
import type { ConsoleConfig } from '../extensions/console/config.js';
import { ApiParameterError, parseLogsQuery, parseTemplatesQuery } from '../extensions/console/params.js';
import { LogQueries, type ApiLog, type ApiTemplate } from '../extensions/console/queries.js';
import { ConfigError } from '../config/errors.js';
import { errorMessage } from '../pipeline/errors.js';

export const QUERY_USAGE = `otelhouse query logs|templates [filters] [--output table|json] [--follow]

Reads the stored logs or templates: through the running daemon's console API when one answers
(the console extension's endpoint in the config, or --console URL), else from the store itself
(which must exist: a store is never created here).

Filters (as the API's parameters):
  --q TEXT            words of the body (logs) or of the template text (templates)
  --service NAME      service.name; repeat for several
  --severity LEVEL    a minimum: trace, debug, info, warn, error, fatal or 1–24 (logs)
  --template ID       a template id, any of its lineage (logs)
  --trace-id HEX      32 hexadecimal digits (logs)
  --attr KEY=VALUE    a log or resource attribute; repeat for several (logs)
  --from TIME         RFC 3339, now, or relative: -15m, -1h, -7d (default: -1h)
  --to TIME           (default: now)
  --limit N           logs: 1–1000 (default 100); templates: 1–1000 (default 100)
  --sort count|new|change   templates (default count)
Output:
  --output table|json table (default), or one JSON object a line
  --follow            logs: then print records as they are exported (needs the daemon)
  --console URL       the console's address (default: from the config's console extension)
  --token TOKEN       for a console with auth (default: $OTELHOUSE_CONSOLE_TOKEN)
  -c, --config FILE   config file (default: config/otelhouse.yaml)
`;

/** A mistake in the command line: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const OPTION_FOR_PARAMETER: Record<string, string> = { trace_id: '--trace-id', attr: '--attr' };

function parameterOption(parameter: string): string {
  if (parameter.startsWith('attr.')) return '--attr';
  return OPTION_FOR_PARAMETER[parameter] ?? `--${parameter}`;
}

interface QueryOptions {
  what: 'logs' | 'templates';
  params: URLSearchParams;
  output: 'table' | 'json';
  follow: boolean;
  console: string | undefined;
  token: string | undefined;
  config: string;
}

export function parseQueryArgs(argv: string[]): QueryOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c', default: 'config/otelhouse.yaml' },
        q: { type: 'string' },
        service: { type: 'string', multiple: true },
        severity: { type: 'string' },
        template: { type: 'string' },
        'trace-id': { type: 'string' },
        attr: { type: 'string', multiple: true },
        from: { type: 'string' },
        to: { type: 'string' },
        limit: { type: 'string' },
        sort: { type: 'string' },
        output: { type: 'string', default: 'table' },
        follow: { type: 'boolean', default: false },
        console: { type: 'string' },
        token: { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const { values, positionals } = parsed;
  const what = positionals[0];
  if ((what !== 'logs' && what !== 'templates') || positionals.length > 1)
    throw new UsageError(`query: expected logs or templates, got "${positionals.join(' ')}"`);
  if (values.output !== 'table' && values.output !== 'json')
    throw new UsageError(`--output: expected table or json, got "${values.output}"`);
  if (values.follow && what !== 'logs') throw new UsageError('--follow: only for query logs');
  const logsOnly = ['severity', 'template', 'trace-id', 'attr'] as const;
  for (const o of logsOnly)
    if (what === 'templates' && values[o] !== undefined) throw new UsageError(`--${o}: only for query logs`);
  if (what === 'logs' && values.sort !== undefined) throw new UsageError('--sort: only for query templates');
  const params = new URLSearchParams();
  const set = (key: string, value: string | undefined) => value !== undefined && params.append(key, value);
  set('q', values.q);
  for (const s of values.service ?? []) params.append('service', s);
  set('severity', values.severity);
  set('template', values.template);
  set('trace_id', values['trace-id']);
  for (const a of values.attr ?? []) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UsageError(`--attr: expected KEY=VALUE, got "${a}"`);
    params.append(`attr.${a.slice(0, eq)}`, a.slice(eq + 1));
  }
  set('from', values.from);
  set('to', values.to);
  set('limit', values.limit);
  set('sort', values.sort);
  return {
    what,
    params,
    output: values.output,
    follow: values.follow,
    console: values.console,
    token: values.token ?? process.env.OTELHOUSE_CONSOLE_TOKEN,
    config: values.config,
  };
}

/** The console's base URL from the config: its endpoint, with a wildcard host asked on the loopback. */
export function consoleUrl(config: ServiceConfig): string | undefined {
  const ext = [...config.extensions.values()].find((e) => e.type === 'console');
  if (!ext) return undefined;
  const c = ext.config as ConsoleConfig;
  const { host, port } = parseHostPort(c.endpoint)!;
  const reachable =
    host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `${c.tls ? 'https' : 'http'}://${reachable}:${port}`;
}

/** Whether nothing listens there: then the store is opened directly. */
function refused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND' || cause?.code === 'EADDRNOTAVAIL';
}

type Source =
  | { kind: 'api'; base: string; headers: Record<string, string> }
  | { kind: 'store'; queries: LogQueries; client: ClickHouseClient };

async function openSource(options: QueryOptions, config: () => ServiceConfig): Promise<Source> {
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  const base = options.console ?? consoleUrl(config());
  if (base) {
    try {
      const res = await fetch(`${base}/api/v1/stats`, { headers, signal: AbortSignal.timeout(5000) });
      if (res.status === 401)
        throw new UsageError(`the console at ${base} needs a token: --token TOKEN or OTELHOUSE_CONSOLE_TOKEN`);
      if (res.ok) return { kind: 'api', base, headers };
      throw new Error(`the console at ${base} answered ${res.status}`);
    } catch (err) {
      if (options.console !== undefined || !refused(err))
        throw err instanceof UsageError ? err : new Error(`cannot ask the console at ${base}: ${errorMessage(err)}`);
    }
  }
  if (options.follow)
    throw new UsageError(
      `--follow: needs a running daemon with the console extension (none answers${base ? ` at ${base}` : ''})`,
    );
  return openStore(config());
}

async function openStore(config: ServiceConfig): Promise<Source> {
  const exporter = [...config.exporters.values()].find((e) => e.factory.type === 'clickhouse');
  if (!exporter)
    throw new ConfigError([
      { path: 'exporters', message: 'no clickhouse exporter in this config, so no stored logs to query' },
    ]);
  const ch = exporter.config as ClickHouseExporterConfig;
  const target = parseEndpoint(ch.endpoint)!;
  if (target.kind === 'embedded' && !existsSync(target.path))
    throw new Error(`no logs stored yet: ${target.path} does not exist (the daemon creates it when it starts)`);
  let client: ClickHouseClient;
  try {
    client = await openClient(ch);
  } catch (err) {
    if (/Cannot lock file|already running/i.test(errorMessage(err))) {
      throw new Error(
        `the store ${target.kind === 'embedded' ? target.path : ch.endpoint} is held by a running daemon whose ` +
          `console does not answer: list the console extension in its service.extensions, or pass --console URL`,
      );
    }
    throw err;
  }
  const tables = { database: ch.database, logs: ch.logs_table_name, templates: ch.templates_table_name };
  return {
    kind: 'store',
    client,
    queries: new LogQueries(client, tables, { maxExecutionSeconds: 60, maxResultRows: 100_000, maxThreads: 0 }),
  };
}

async function apiGet<T>(source: Extract<Source, { kind: 'api' }>, path: string, params: URLSearchParams): Promise<T> {
  const res = await fetch(`${source.base}${path}?${params}`, { headers: source.headers });
  const body = (await res.json()) as T & { error?: { parameter: string | null; message: string } };
  if (res.status === 400 && body.error?.parameter)
    throw new ApiParameterError(body.error.parameter, body.error.message.replace(/^[^:]+: /, ''));
  if (!res.ok) throw new Error(`the console answered ${res.status}: ${body.error?.message ?? JSON.stringify(body)}`);
  return body;
}

function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '\\n');
}

function logLine(log: ApiLog): string {
  return (
    `${log.timestamp}  ${(log.severity_text || String(log.severity_number)).padEnd(5)} ` +
    ` ${log.service_name.padEnd(16)}  ${oneLine(log.body)}`
  );
}

function writeLogs(out: NodeJS.WritableStream, logs: ApiLog[], output: 'table' | 'json'): void {
  for (const log of logs) out.write(output === 'json' ? `${JSON.stringify(log)}\n` : `${logLine(log)}\n`);
}

function writeTemplates(out: NodeJS.WritableStream, templates: ApiTemplate[], output: 'table' | 'json'): void {
  if (output === 'json') {
    for (const t of templates) out.write(`${JSON.stringify(t)}\n`);
    return;
  }
  out.write(
    `${'count'.padStart(10)}  ${'change'.padStart(7)}  ${'max'.padEnd(5)} ` +
      ` ${'id'.padEnd(20)}  ${'services'.padEnd(20)}  template\n`,
  );
  for (const t of templates) {
    const change = t.change === null ? 'new' : `${t.change >= 0 ? '+' : ''}${Math.round(t.change * 100)}%`;
    out.write(
      `${String(t.count).padStart(10)}  ${change.padStart(7)}  ${t.max_severity.padEnd(5)} ` +
        ` ${t.id.padEnd(20)}  ${t.services.join(',').slice(0, 20).padEnd(20)}  ${oneLine(t.text)}\n`,
    );
  }
}

/** Prints the tail's records until the connection ends (or the process is stopped). */
async function follow(
  source: Extract<Source, { kind: 'api' }>,
  params: URLSearchParams,
  output: 'table' | 'json',
  out: NodeJS.WritableStream,
): Promise<void> {
  const res = await fetch(`${source.base}/api/v1/tail?${params}`, { headers: source.headers });
  if (!res.ok || !res.body) throw new Error(`the console's tail answered ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(event);
      if (/^event: log$/m.test(event) && data) writeLogs(out, [JSON.parse(data[1]!) as ApiLog], output);
    }
  }
}

/** `otelhouse query logs|templates …`. */
export async function runQuery(
  options: QueryOptions,
  config: () => ServiceConfig,
  out: NodeJS.WritableStream,
): Promise<void> {
  // Checked here first, so a bad filter is told the same way whichever source answers.
  try {
    if (options.what === 'logs') parseLogsQuery(options.params);
    else parseTemplatesQuery(options.params);
  } catch (err) {
    if (err instanceof ApiParameterError)
      throw new UsageError(`${parameterOption(err.parameter)}: ${err.message.slice(err.parameter.length + 2)}`);
    throw err;
  }
  const source = await openSource(options, config);
  try {
    if (options.what === 'logs') {
      const { logs } =
        source.kind === 'api'
          ? await apiGet<{ logs: ApiLog[] }>(source, '/api/v1/logs', options.params)
          : await source.queries.searchLogs(parseLogsQuery(options.params));
      // Followed, the page is printed oldest first, so the records that arrive continue it.
      writeLogs(out, options.follow ? [...logs].reverse() : logs, options.output);
      if (options.follow && source.kind === 'api') {
        const tail = new URLSearchParams([...options.params].filter(([k]) => !['from', 'to', 'limit'].includes(k)));
        await follow(source, tail, options.output, out);
      }
    } else {
      const { templates } =
        source.kind === 'api'
          ? await apiGet<{ templates: ApiTemplate[] }>(source, '/api/v1/templates', options.params)
          : await source.queries.listTemplates(parseTemplatesQuery(options.params));
      writeTemplates(out, templates, options.output);
    }
  } catch (err) {
    if (err instanceof ApiParameterError)
      throw new UsageError(`${parameterOption(err.parameter)}: ${err.message.slice(err.parameter.length + 2)}`);
    throw err;
  } finally {
    if (source.kind === 'store') await source.client.close();
  }
}
