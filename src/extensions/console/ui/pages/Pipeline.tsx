import { api, type Stats } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { usePolling } from '../data.js';
import { count, duration } from '../format.js';

const REFRESH_MS = 2000;

/** Counts read first in each table: what came in, what was refused, what left, what is waiting. */
const LEADING_COUNTS = [
  'accepted',
  'refused',
  'records',
  'batches',
  'exported',
  'failed',
  'queue_size',
  'queue_bytes',
  'retries',
  'dead_lettered',
];
const ALARMING = new Set(['refused', 'failed', 'dead_lettered', 'expired', 'queue_damaged', 'llm_dropped']);

type Components = Record<string, Record<string, number>>;

/** The component groups of /stats: every value that is an object of objects of numbers. */
function componentGroups(stats: Stats): [string, Components][] {
  return Object.entries(stats).filter(
    (entry): entry is [string, Components] =>
      typeof entry[1] === 'object' &&
      entry[1] !== null &&
      !Array.isArray(entry[1]) &&
      Object.values(entry[1]).every((v) => typeof v === 'object' && v !== null),
  );
}

function ComponentTable(props: { kind: string; components: Components }) {
  const ids = Object.keys(props.components);
  const keys = new Set<string>();
  for (const counts of Object.values(props.components)) for (const key of Object.keys(counts)) keys.add(key);
  const columns = [
    ...LEADING_COUNTS.filter((k) => keys.has(k)),
    ...[...keys].filter((k) => !LEADING_COUNTS.includes(k)).sort(),
  ];
  return (
    <section class="component-group">
      <h3>{props.kind}</h3>
      {ids.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <table class="components" data-kind={props.kind}>
          <thead>
            <tr>
              <th>id</th>
              {columns.map((c) => (
                <th class="number">{c.replaceAll('_', ' ')}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {ids.map((id) => (
              <tr data-component={id}>
                <th scope="row">{id}</th>
                {columns.map((c) => {
                  const value = props.components[id]![c];
                  return (
                    <td class={`number ${ALARMING.has(c) && value ? 'alarm' : ''}`} data-count={c}>
                      {value === undefined ? '' : count(value)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function PipelinePage() {
  const stats = usePolling(REFRESH_MS, (signal) => api.stats(signal));
  const data = stats.data;
  return (
    <main class="page pipeline-page">
      <ErrorNote error={stats.error} />
      {data && (
        <>
          <dl class="pipeline-facts">
            <div>
              <dt>state</dt>
              <dd class={`state state-${data.state}`}>{data.state}</dd>
            </div>
            {data.uptime_seconds !== undefined && (
              <div>
                <dt>uptime</dt>
                <dd>{duration(data.uptime_seconds)}</dd>
              </div>
            )}
            {data.pipelines && (
              <div>
                <dt>pipelines</dt>
                <dd>{data.pipelines.join(', ')}</dd>
              </div>
            )}
            {data.templates_loaded !== undefined && (
              <div>
                <dt>templates loaded</dt>
                <dd>{count(data.templates_loaded)}</dd>
              </div>
            )}
            {stats.updatedAt && (
              <div>
                <dt>updated</dt>
                <dd>
                  <time>{new Date(stats.updatedAt).toISOString().slice(11, 19)} UTC</time> (every {REFRESH_MS / 1000} s)
                </dd>
              </div>
            )}
          </dl>
          {componentGroups(data).map(([kind, components]) => (
            <ComponentTable kind={kind} components={components} />
          ))}
        </>
      )}
    </main>
  );
}
