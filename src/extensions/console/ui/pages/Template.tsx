import { api, type ParamDistribution } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { LogList } from '../components/LogList.js';
import { Histogram } from '../components/Histogram.js';
import { TemplateText } from '../components/TemplateText.js';
import { TimeRange } from '../components/TimeRange.js';
import { useFetch, useLogPages, useRefresh } from '../data.js';
import { change, count, shortTime, unixToRfc3339 } from '../format.js';
import { href, Link, setParams } from '../location.js';

function Distribution(props: { param: ParamDistribution; templateId: string; range: { from?: string; to?: string } }) {
  const { param } = props;
  const shown = param.top.reduce((sum, v) => sum + v.share, 0);
  return (
    <section class="distribution">
      <h4>
        <span class="param">{`<*>`}</span> #{param.position + 1} · {count(param.distinct)} distinct
      </h4>
      <table>
        <tbody>
          {param.top.map((value) => (
            <tr>
              <td class="value">
                <Link
                  href={href('/logs', { template: props.templateId, q: value.value, ...props.range })}
                  title="Logs of this template with this value"
                >
                  <code>{value.value === '' ? '(empty)' : value.value}</code>
                </Link>
              </td>
              <td class="bar-cell">
                <span class="bar" style={{ width: `${Math.max(0.5, value.share * 100)}%` }} />
              </td>
              <td class="number">{count(value.count)}</td>
              <td class="number">{(value.share * 100).toFixed(1)}%</td>
            </tr>
          ))}
          {shown < 0.999 && param.distinct > param.top.length && (
            <tr class="muted">
              <td>other {count(param.distinct - param.top.length)} values</td>
              <td class="bar-cell">
                <span class="bar other" style={{ width: `${(1 - shown) * 100}%` }} />
              </td>
              <td />
              <td class="number">{((1 - shown) * 100).toFixed(1)}%</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

export function TemplatePage(props: { id: string; params: URLSearchParams }) {
  const { id, params } = props;
  const range = { from: params.get('from') ?? undefined, to: params.get('to') ?? undefined };
  const [refresh, again] = useRefresh();
  const detail = useFetch(JSON.stringify([id, range, refresh]), (signal) => api.template(id, range, signal));
  const logs = useLogPages({ template: id, ...range, limit: '50' }, refresh);
  const histogram = useFetch(JSON.stringify([id, range, refresh]), (signal) =>
    api.histogram({ template: id, ...range }, signal),
  );
  const template = detail.data?.template;

  return (
    <main class="page template-page">
      <div class="toolbar">
        <nav class="crumbs">
          <Link href={href('/templates', range)}>Templates</Link> / <span>{id}</span>
        </nav>
        <div class="toolbar-right">
          <TimeRange
            from={range.from}
            to={range.to}
            onChange={(from, to) => setParams({ from, to })}
            onRefresh={again}
          />
        </div>
      </div>
      <ErrorNote error={detail.error} />
      {template && (
        <>
          <h2 class="template-title">
            <TemplateText text={template.text} />
          </h2>
          <div class="template-facts">
            <dl>
              <div>
                <dt>count</dt>
                <dd>{count(template.count)}</dd>
              </div>
              <div>
                <dt>previous period</dt>
                <dd>
                  {count(template.previous_count)} ({change(template.change)})
                </dd>
              </div>
              <div>
                <dt>first seen</dt>
                <dd>
                  {shortTime(template.first_seen)} {template.new && <span class="badge new">new in this range</span>}
                </dd>
              </div>
              <div>
                <dt>last seen</dt>
                <dd>{shortTime(template.last_seen)}</dd>
              </div>
              <div>
                <dt>services</dt>
                <dd>{template.services.join(', ') || '—'}</dd>
              </div>
              <div>
                <dt>max severity</dt>
                <dd>
                  <span class={`severity sev-${template.max_severity}`}>{template.max_severity}</span>
                </dd>
              </div>
              <div>
                <dt>source</dt>
                <dd>{template.source}</dd>
              </div>
              <div>
                <dt>id</dt>
                <dd>
                  <code>{template.id}</code>
                </dd>
              </div>
            </dl>
          </div>
          {histogram.data && (
            <Histogram
              data={histogram.data}
              onSelect={(a, b) => setParams({ from: unixToRfc3339(a), to: unixToRfc3339(b) })}
            />
          )}
          <section class="sample">
            <h3>Sample</h3>
            <pre class="body">{template.sample}</pre>
          </section>
          <section class="lineage">
            <h3>Lineage</h3>
            {template.lineage.length === 0 ? (
              <p class="muted">This template has replaced no other.</p>
            ) : (
              <>
                <p class="muted">Ids this template replaced (their records count here):</p>
                <ul>
                  {template.lineage.map((replaced) => (
                    <li>
                      <Link href={href('/logs', { template: replaced, ...range })}>
                        <code>{replaced}</code>
                      </Link>
                    </li>
                  ))}
                </ul>
              </>
            )}
          </section>
          <section class="params-section">
            <h3>Parameters</h3>
            {detail.data!.params.length === 0 ? (
              <p class="muted">This template has no parameters.</p>
            ) : (
              detail.data!.params.map((param) => <Distribution param={param} templateId={template.id} range={range} />)
            )}
          </section>
        </>
      )}
      <section class="template-logs">
        <h3>
          Logs <Link href={href('/logs', { template: id, ...range })}>open in Logs</Link>
        </h3>
        <ErrorNote error={logs.error} />
        <LogList logs={logs.logs} range={range} />
        {!logs.loading && logs.logs.length === 0 && <p class="empty">No records of this template in this range.</p>}
        {logs.hasMore && (
          <button type="button" class="load-more" onClick={logs.loadMore} disabled={logs.loading}>
            {logs.loading ? 'Loading…' : 'Load more'}
          </button>
        )}
      </section>
    </main>
  );
}
