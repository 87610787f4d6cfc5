import { useEffect, useRef, useState } from 'preact/hooks';
import { ExponentialBackoff } from '../../../internal/backoff.js';
import { api, ApiError, auth, type AuthState, type Log, type Query } from './api.js';

export interface Loaded<T> {
  data?: T;
  error?: Error;
  loading: boolean;
}

/** A number to put in the keys of loads that a Refresh button repeats (relative ranges move with the clock). */
export function useRefresh(): [number, () => void] {
  const [token, setToken] = useState(0);
  return [token, () => setToken((n) => n + 1)];
}

/**
 * Loads once per change of `key`; a change while loading aborts the earlier request, so an older answer never
 * overwrites a newer one.
 */
export function useFetch<T>(key: string, load: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ loading: true });
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ data: previous.data, loading: true }));
    load(controller.signal).then(
      (data) => setState({ data, loading: false }),
      (error: Error) => {
        if (!controller.signal.aborted) setState({ error, loading: false });
      },
    );
    return () => controller.abort();
  }, [key]);
  return state;
}

/** Runs `load` now and every `everyMs` after the previous answer, while mounted. */
export function usePolling<T>(
  everyMs: number,
  load: (signal: AbortSignal) => Promise<T>,
): Loaded<T> & { updatedAt?: number } {
  const [state, setState] = useState<Loaded<T> & { updatedAt?: number }>({ loading: true });
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () =>
      load(controller.signal)
        .then(
          (data) => setState({ data, loading: false, updatedAt: Date.now() }),
          (error: Error) => {
            if (!controller.signal.aborted)
              setState((previous) => ({ data: previous.data, error, loading: false, updatedAt: previous.updatedAt }));
          },
        )
        .finally(() => {
          if (!controller.signal.aborted) timer = setTimeout(tick, everyMs);
        });
    tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [everyMs]);
  return state;
}

export interface LogPages {
  logs: Log[];
  error?: Error;
  loading: boolean;
  hasMore: boolean;
  loadMore: () => void;
}

/** One page of records for `query`, and the next page only when asked for (the API's cursor), never the whole range. */
export function useLogPages(query: Query, refresh = 0): LogPages {
  const key = JSON.stringify([query, refresh]);
  const [state, setState] = useState<{
    key: string;
    logs: Log[];
    cursor: string | null;
    error?: Error;
    loading: boolean;
  }>({ key, logs: [], cursor: null, loading: true });
  const controller = useRef<AbortController | null>(null);

  const load = (cursor: string | null) => {
    controller.current?.abort();
    const current = (controller.current = new AbortController());
    setState((previous) => ({ ...previous, key, logs: cursor ? previous.logs : [], error: undefined, loading: true }));
    api.logs({ ...query, cursor: cursor ?? undefined }, current.signal).then(
      (page) =>
        setState((previous) => ({
          key,
          logs: cursor ? [...previous.logs, ...page.logs] : page.logs,
          cursor: page.next_cursor,
          loading: false,
        })),
      (error: Error) => {
        if (!current.signal.aborted) setState((previous) => ({ ...previous, error, loading: false }));
      },
    );
  };

  useEffect(() => {
    load(null);
    return () => controller.current?.abort();
  }, [key]);

  return {
    logs: state.key === key ? state.logs : [],
    error: state.error,
    loading: state.loading,
    hasMore: state.cursor !== null,
    loadMore: () => {
      if (state.cursor !== null && !state.loading) load(state.cursor);
    },
  };
}

export type TailStatus = 'off' | 'connecting' | 'live' | 'reconnecting';

/** The exporters' back-off, so that tabs cut off together by a restart do not come back together. */
const TAIL_RETRY = { initialMs: 1000, maxMs: 10_000, multiplier: 2, randomizationFactor: 0.2 };

/**
 * Reads the tail's Server-Sent Events with fetch rather than EventSource, which cannot send the
 * Authorization header a console with `auth` needs. Calls `onLog` per `log` event; resolves when
 * the stream ends, rejects on an HTTP error.
 */
async function readTail(
  url: string,
  signal: AbortSignal,
  onOpen: () => void,
  onLog: (log: Log) => void,
): Promise<void> {
  const credentials = auth.headers();
  const response = await fetch(url, { signal, headers: { Accept: 'text/event-stream', ...credentials } });
  if (response.status === 401) auth.unauthorized(credentials);
  if (!response.ok || !response.body) throw new ApiError(response.status, `${response.status} ${response.statusText}`);
  onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      let data = '';
      for (const line of event.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(5).replace(/^ /, '');
      }
      if (name === 'log' && data) onLog(JSON.parse(data) as Log);
    }
  }
}

/** Records the server sends as they are exported (SSE), newest first, up to `keep`; null `query` is off. */
export function useTail(query: Query | null, keep = 500): { logs: Log[]; status: TailStatus } {
  const key = query === null ? null : JSON.stringify(query);
  const [logs, setLogs] = useState<Log[]>([]);
  const [status, setStatus] = useState<TailStatus>('off');
  useEffect(() => {
    setLogs([]);
    if (query === null) {
      setStatus('off');
      return;
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const backoff = new ExponentialBackoff(TAIL_RETRY);
    let connected = false;
    const connect = () => {
      setStatus(connected ? 'reconnecting' : 'connecting');
      readTail(
        api.tailUrl(query),
        controller.signal,
        () => {
          connected = true;
          backoff.reset();
          setStatus('live');
        },
        (log) => setLogs((previous) => [log, ...previous].slice(0, keep)),
      ).then(retry, (error: unknown) => {
        if (error instanceof ApiError && error.status === 401) setStatus('off');
        else retry();
      });
    };
    const retry = () => {
      if (controller.signal.aborted) return;
      setStatus('reconnecting');
      timer = setTimeout(connect, backoff.next());
    };
    connect();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [key]);
  return { logs, status };
}

/** The API's wish for a token: set by a 401, cleared when a token is entered. */
export function useAuthState(): AuthState {
  const [state, setState] = useState<AuthState>(auth.state);
  useEffect(() => {
    auth.listeners.add(setState);
    return () => {
      auth.listeners.delete(setState);
    };
  }, []);
  return state;
}
