import { useEffect, useState } from 'preact/hooks';
import { api, logFilters, type Query } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { Histogram } from '../components/Histogram.js';
import { LogList } from '../components/LogList.js';
import { TimeRange } from '../components/TimeRange.js';
import { useFetch, useLogPages, useRefresh, useTail } from '../data.js';
import { count, unixToRfc3339 } from '../format.js';
import { setParams } from '../location.js';

const SEVERITIES = ['', 'debug', 'info', 'warn', 'error', 'fatal'];
const TEXT_FILTERS = ['q', 'service', 'template', 'trace_id'] as const;

function SearchForm(props: { params: URLSearchParams }) {
  const { params } = props;
  const read = () => Object.fromEntries([...TEXT_FILTERS, 'severity'].map((key) => [key, params.get(key) ?? '']));
  const [values, setValues] = useState<Record<string, string>>(read);
  const [attribute, setAttribute] = useState('');
  useEffect(() => setValues(read()), [params.toString()]);
  const attributes = [...params].filter(([key]) => key.startsWith('attr.'));
  const field = (key: string) => ({
    value: values[key],
    onInput: (e: { currentTarget: HTMLInputElement }) => setValues({ ...values, [key]: e.currentTarget.value }),
  });

  const submit = (event: Event) => {
    event.preventDefault();
    const changes: Record<string, string | undefined> = { ...values };
    const pair = /^([^=\s]+)\s*=\s*(.*)$/.exec(attribute.trim());
    if (pair) changes[`attr.${pair[1]}`] = pair[2];
    setAttribute('');
    setParams(changes);
  };

  return (
    <form class="search" onSubmit={submit} role="search">
      <input
        id="search"
        class="query"
        type="search"
        name="q"
        placeholder="Search bodies…  ( / )"
        aria-label="Search log bodies"
        {...field('q')}
      />
      <div class="filters">
        <label>
          Service <input name="service" {...field('service')} size={14} />
        </label>
        <label>
          Severity ≥{' '}
          <select
            name="severity"
            value={values.severity}
            onChange={(e) => setValues({ ...values, severity: e.currentTarget.value })}
          >
            {SEVERITIES.map((s) => (
              <option value={s}>{s || 'any'}</option>
            ))}
          </select>
        </label>
        <label>
          Template <input name="template" {...field('template')} size={20} placeholder="id" />
        </label>
        <label>
          Trace id <input name="trace_id" {...field('trace_id')} size={20} />
        </label>
        <label>
          Attribute{' '}
          <input
            name="attribute"
            value={attribute}
            onInput={(e) => setAttribute(e.currentTarget.value)}
            size={16}
            placeholder="key=value"
          />
        </label>
        <button type="submit">Search</button>
      </div>
      {attributes.length > 0 && (
        <ul class="chips" aria-label="Attribute filters">
          {attributes.map(([key, value]) => (
            <li>
              <code>
                {key.slice(5)}={value}
              </code>
              <button
                type="button"
                class="small"
                aria-label={`Remove filter ${key.slice(5)}`}
                onClick={() => setParams({ [key]: undefined })}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </form>
  );
}

export function LogsPage(props: { params: URLSearchParams }) {
  const { params } = props;
  const filters = logFilters(params);
  const range = { from: filters.from, to: filters.to };
  const pageQuery: Query = { ...filters, limit: params.get('limit') ?? '100' };
  const [refresh, again] = useRefresh();
  const pages = useLogPages(pageQuery, refresh);
  const histogram = useFetch(JSON.stringify([filters, refresh]), (signal) => api.histogram(filters, signal));
  const live = params.get('live') === '1';
  const { from: _from, to: _to, ...tailFilters } = filters;
  const tail = useTail(live ? tailFilters : null);
  const shown = [...tail.logs, ...pages.logs];
  const total = histogram.data
    ? Object.values(histogram.data.counts).reduce((sum, series) => sum + (series ?? []).reduce((a, b) => a + b, 0), 0)
    : undefined;

  return (
    <main class="page logs-page">
      <div class="toolbar">
        <SearchForm params={params} />
        <div class="toolbar-right">
          <TimeRange
            from={filters.from}
            to={filters.to}
            onChange={(from, to) => setParams({ from, to })}
            onRefresh={again}
          />
          <label class="live-toggle">
            <input
              type="checkbox"
              name="live"
              checked={live}
              onChange={(e) => setParams({ live: e.currentTarget.checked ? '1' : undefined }, { replace: true })}
            />
            Live tail {live && <span class={`live-status ${tail.status}`}>{tail.status}</span>}
          </label>
        </div>
      </div>
      <ErrorNote error={histogram.error ?? pages.error} />
      {histogram.data && (
        <Histogram
          data={histogram.data}
          onSelect={(a, b) => setParams({ from: unixToRfc3339(a), to: unixToRfc3339(b) })}
        />
      )}
      <p class="summary" aria-live="polite">
        {total !== undefined && <>{count(total)} records in range · </>}
        {count(shown.length)} shown{tail.logs.length > 0 && <> ({count(tail.logs.length)} live)</>}
        {pages.loading && ' · loading…'}
      </p>
      <LogList logs={shown} range={range} highlightFirst={tail.logs.length} />
      {!pages.loading && shown.length === 0 && <p class="empty">No records match in this range.</p>}
      {pages.hasMore && (
        <button type="button" class="load-more" onClick={pages.loadMore} disabled={pages.loading}>
          {pages.loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </main>
  );
}
