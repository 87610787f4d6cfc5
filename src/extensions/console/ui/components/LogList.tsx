import { useState } from 'preact/hooks';
import type { Log } from '../api.js';
import { severityLevel, shortTime } from '../format.js';
import { href, Link, setParams } from '../location.js';
import { TemplateText } from './TemplateText.js';

/**
 * Records have no id, and two may share every field; each object gets its own key, stable when tailed records are put
 * above it.
 */
const keys = new WeakMap<Log, string>();
let lastKey = 0;
function logKey(log: Log): string {
  let key = keys.get(log);
  if (key === undefined) keys.set(log, (key = String(++lastKey)));
  return key;
}

function Attributes(props: { title: string; attributes: Record<string, string>; filterable?: boolean }) {
  const entries = Object.entries(props.attributes ?? {});
  if (entries.length === 0) return null;
  return (
    <section class="attributes">
      <h4>{props.title}</h4>
      <dl>
        {entries.map(([key, value]) => (
          <div class="attribute">
            <dt>{key}</dt>
            <dd>
              <span class="value">{value}</span>
              {props.filterable && (
                <button
                  type="button"
                  class="small"
                  title={`Show only logs with ${key}=${value}`}
                  onClick={() => setParams({ [`attr.${key}`]: value, cursor: undefined })}
                >
                  filter
                </button>
              )}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/** Everything a record holds: its fields, its template with the parameters it was filled with, all attributes. */
function LogDetail(props: { log: Log; range: { from?: string; to?: string } }) {
  const { log } = props;
  const templateId = log.current_template_id || log.template_id;
  return (
    <div class="log-detail">
      <dl class="fields">
        <div>
          <dt>timestamp</dt>
          <dd>{log.timestamp}</dd>
        </div>
        <div>
          <dt>observed</dt>
          <dd>{log.observed_timestamp}</dd>
        </div>
        <div>
          <dt>severity</dt>
          <dd>
            {log.severity_text || '—'} ({log.severity_number})
          </dd>
        </div>
        <div>
          <dt>service</dt>
          <dd>{log.service_name || '—'}</dd>
        </div>
        {log.trace_id && (
          <div>
            <dt>trace_id</dt>
            <dd>
              <Link href={href('/logs', { trace_id: log.trace_id, ...props.range })}>{log.trace_id}</Link>
            </dd>
          </div>
        )}
        {log.span_id && (
          <div>
            <dt>span_id</dt>
            <dd>{log.span_id}</dd>
          </div>
        )}
        {(log.scope_name || log.scope_version) && (
          <div>
            <dt>scope</dt>
            <dd>
              {log.scope_name} {log.scope_version}
            </dd>
          </div>
        )}
      </dl>
      <pre class="body">{log.body}</pre>
      {log.template !== null && (
        <section class="log-template">
          <h4>
            Template{' '}
            <Link href={href(`/templates/${templateId}`, props.range)} class="template-link">
              {templateId}
            </Link>
            {log.template_id !== templateId && <span class="muted"> (stored as {log.template_id})</span>}
          </h4>
          <div>
            <TemplateText text={log.template} />
          </div>
          {log.template_params.length > 0 && (
            <ol class="params">
              {log.template_params.map((param) => (
                <li>
                  <code>{param}</code>
                </li>
              ))}
            </ol>
          )}
        </section>
      )}
      <Attributes title="Log attributes" attributes={log.log_attributes} filterable />
      <Attributes title="Resource attributes" attributes={log.resource_attributes} filterable />
      <Attributes title="Scope attributes" attributes={log.scope_attributes} />
    </div>
  );
}

/** One record's row; it keeps its own open state, so opening one re-renders that row, not the list. */
function LogItem(props: { log: Log; range: { from?: string; to?: string }; tailed: boolean }) {
  const { log } = props;
  const [open, setOpen] = useState(false);
  const level = severityLevel(log.severity_number, log.severity_text);
  return (
    <li
      class={`log ${open ? 'open' : ''} ${props.tailed ? 'tailed' : ''}`}
      onKeyDown={(event) => {
        if (event.key === 'Escape' && open) {
          event.stopPropagation();
          setOpen(false);
          event.currentTarget.querySelector<HTMLButtonElement>('.log-row')?.focus();
        }
      }}
    >
      <button type="button" class="log-row" aria-expanded={open} onClick={() => setOpen(!open)}>
        <time>{shortTime(log.timestamp)}</time>
        <span class={`severity sev-${level}`}>{level}</span>
        <span class="service">{log.service_name}</span>
        <span class="log-body">{log.body}</span>
      </button>
      {open && <LogDetail log={log} range={props.range} />}
    </li>
  );
}

/**
 * Rows of records, newest first, each a button that expands it (Enter or click; Escape closes).
 * Rows off screen are skipped by the browser's layout (content-visibility), so a long list stays cheap.
 */
export function LogList(props: { logs: Log[]; range: { from?: string; to?: string }; highlightFirst?: number }) {
  return (
    <ol class="log-list" aria-label="Log records">
      {props.logs.map((log, index) => (
        <LogItem key={logKey(log)} log={log} range={props.range} tailed={index < (props.highlightFirst ?? 0)} />
      ))}
    </ol>
  );
}
