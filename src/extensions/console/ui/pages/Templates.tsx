import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { Sparkline } from '../components/Sparkline.js';
import { TemplateText } from '../components/TemplateText.js';
import { TimeRange } from '../components/TimeRange.js';
import { useFetch, useRefresh } from '../data.js';
import { change, count, shortTime } from '../format.js';
import { href, Link, setParams } from '../location.js';

const SORTS = [
  { value: 'count', label: 'Most frequent' },
  { value: 'new', label: 'Newest' },
  { value: 'change', label: 'Biggest change' },
];

export function TemplatesPage(props: { params: URLSearchParams }) {
  const { params } = props;
  const query = {
    from: params.get('from') ?? undefined,
    to: params.get('to') ?? undefined,
    service: params.get('service') ?? undefined,
    q: params.get('q') ?? undefined,
    sort: params.get('sort') ?? undefined,
    limit: params.get('limit') ?? '200',
  };
  const sort = query.sort ?? 'count';
  const [refresh, again] = useRefresh();
  const list = useFetch(JSON.stringify([query, refresh]), (signal) => api.templates(query, signal));
  const [q, setQ] = useState(query.q ?? '');
  const [service, setService] = useState(query.service ?? '');
  useEffect(() => {
    setQ(query.q ?? '');
    setService(query.service ?? '');
  }, [query.q, query.service]);
  const range = { from: query.from, to: query.to };
  const templates = list.data?.templates ?? [];

  return (
    <main class="page templates-page">
      <div class="toolbar">
        <form
          class="search"
          role="search"
          onSubmit={(event) => {
            event.preventDefault();
            setParams({ q, service });
          }}
        >
          <input
            id="search"
            class="query"
            type="search"
            name="q"
            placeholder="Search template text…  ( / )"
            aria-label="Search templates"
            value={q}
            onInput={(e) => setQ(e.currentTarget.value)}
          />
          <div class="filters">
            <label>
              Service{' '}
              <input name="service" value={service} onInput={(e) => setService(e.currentTarget.value)} size={14} />
            </label>
            <button type="submit">Search</button>
            <span class="sort" role="group" aria-label="Sort">
              Sort:
              {SORTS.map((s) => (
                <button
                  type="button"
                  class={sort === s.value ? 'preset active' : 'preset'}
                  aria-pressed={sort === s.value}
                  onClick={() => setParams({ sort: s.value === 'count' ? undefined : s.value })}
                >
                  {s.label}
                </button>
              ))}
            </span>
          </div>
        </form>
        <div class="toolbar-right">
          <TimeRange
            from={query.from}
            to={query.to}
            onChange={(from, to) => setParams({ from, to })}
            onRefresh={again}
          />
        </div>
      </div>
      <ErrorNote error={list.error} />
      <p class="summary" aria-live="polite">
        {list.data ? `${count(templates.length)} templates` : ''}
        {list.data &&
          String(templates.length) === query.limit &&
          ' (the first ones by this sort; search to narrow down)'}
        {list.data && templates.some((t) => t.new) && ` · ${templates.filter((t) => t.new).length} new in this range`}
        {list.loading && ' · loading…'}
      </p>
      <table class="templates">
        <thead>
          <tr>
            <th>Trend</th>
            <th>Template</th>
            <th class="number">Count</th>
            <th class="number">Change</th>
            <th>Services</th>
            <th>Max severity</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {templates.map((template) => (
            <tr key={template.id} class="template-row">
              <td>{list.data && <Sparkline buckets={list.data.buckets} series={template.series} />}</td>
              <td class="text">
                <Link href={href(`/templates/${template.id}`, range)} class="template-link">
                  <TemplateText text={template.text} />
                </Link>
                {template.new && (
                  <span class="badge new" title={`first seen ${template.first_seen}`}>
                    new in this range
                  </span>
                )}
                {template.source === 'llm' && <span class="badge">llm</span>}
              </td>
              <td class="number">{count(template.count)}</td>
              <td
                class={`number ${template.change !== null && template.change > 1.5 ? 'up' : ''}`}
                title={`previous period: ${count(template.previous_count)}`}
              >
                {change(template.change)}
              </td>
              <td>{template.services.join(', ')}</td>
              <td>
                <span class={`severity sev-${template.max_severity}`}>{template.max_severity}</span>
              </td>
              <td>
                <time>{shortTime(template.last_seen)}</time>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!list.loading && templates.length === 0 && !list.error && <p class="empty">No templates in this range.</p>}
    </main>
  );
}
