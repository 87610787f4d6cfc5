/** Types and calls of the console's read-only JSON API (/api/v1). */

import type { ApiLog, ApiTemplate, ParamDistribution } from '../api-types.js';

export type Log = ApiLog;

export interface LogPage {
  logs: Log[];
  next_cursor: string | null;
}

export const SEVERITY_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'UNSPECIFIED'] as const;
export type SeverityLevel = (typeof SEVERITY_LEVELS)[number];

export interface Histogram {
  bucket_seconds: number;
  buckets: number[];
  counts: Partial<Record<SeverityLevel, number[]>>;
}

export type Template = ApiTemplate;

export interface TemplateList {
  bucket_seconds: number;
  buckets: number[];
  templates: Template[];
}

export type { ParamDistribution };

export interface TemplateDetail {
  template: Template;
  params: ParamDistribution[];
  /** The start of each bucket of `template.series` (unix seconds), as in the templates list. */
  buckets: number[];
  bucket_seconds: number;
}

export type Stats = {
  uptime_seconds?: number;
  state?: string;
  pipelines?: string[];
  templates_loaded?: number;
} & Record<string, unknown>;

/** An error the API answered with; `parameter` names the query parameter it refused, when it says. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
  }
}

/** Query parameters as the API takes them; empty values are left out so the server applies its defaults. */
export type Query = Record<string, string | undefined>;

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}

const TOKEN_KEY = 'otelhouse.console.token';

export type AuthState = 'none' | 'required' | 'refused';

/**
 * The bearer token of a console with `auth`, kept in sessionStorage: it lasts while the tab is
 * open and is sent to this origin only. The API's first 401 asks for it; a 401 with a token
 * says the token was refused.
 */
export const auth = {
  state: 'none' as AuthState,
  listeners: new Set<(state: AuthState) => void>(),
  token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  headers(): Record<string, string> {
    const token = auth.token();
    return token ? { Authorization: `Bearer ${token}` } : {};
  },
  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
    auth.notify('none');
  },
  /** A 401 to a request that carried `sent`: that token was refused, or none was given. */
  unauthorized(sent: Record<string, string>): void {
    if (sent.Authorization === undefined) {
      if (auth.state === 'none') auth.notify('required');
      return;
    }
    if (sent.Authorization === auth.headers().Authorization) sessionStorage.removeItem(TOKEN_KEY);
    auth.notify('refused');
  },
  notify(state: AuthState): void {
    auth.state = state;
    for (const listener of auth.listeners) listener(state);
  },
};

async function getJson<T>(path: string, query: Query, signal?: AbortSignal): Promise<T> {
  const credentials = auth.headers();
  const response = await fetch(`/api/v1/${path}${queryString(query)}`, {
    signal,
    headers: { Accept: 'application/json', ...credentials },
  });
  if (response.status === 401) auth.unauthorized(credentials);
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as
      { error?: { parameter?: string; message?: string } } | undefined;
    const fallback =
      response.status === 401
        ? 'this endpoint requires authentication'
        : response.status === 503
          ? 'the log store is not reachable'
          : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, body?.error?.message ?? fallback, body?.error?.parameter);
  }
  return (await response.json()) as T;
}

export const api = {
  logs: (query: Query, signal?: AbortSignal) => getJson<LogPage>('logs', query, signal),
  histogram: (query: Query, signal?: AbortSignal) => getJson<Histogram>('logs/histogram', query, signal),
  templates: (query: Query, signal?: AbortSignal) => getJson<TemplateList>('templates', query, signal),
  template: (id: string, query: Query, signal?: AbortSignal) =>
    getJson<TemplateDetail>(`templates/${encodeURIComponent(id)}`, query, signal),
  stats: (signal?: AbortSignal) => getJson<Stats>('stats', {}, signal),
  tailUrl: (query: Query) => `/api/v1/tail${queryString(query)}`,
};

/** The filters the logs, histogram and tail endpoints share, taken from the page's URL parameters. */
export function logFilters(params: URLSearchParams): Query {
  const query: Query = {};
  for (const key of ['q', 'service', 'severity', 'template', 'trace_id', 'from', 'to'])
    query[key] = params.get(key) ?? undefined;
  for (const [key, value] of params) if (key.startsWith('attr.')) query[key] = value;
  return query;
}
