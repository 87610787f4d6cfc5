import type { ServerResponse } from 'node:http';
import type { ExportObserver } from '../../pipeline/host.js';
import { anyValueToString, type Attributes, type LogBatch } from '../../pipeline/model.js';
import { bodyTokens, rfc3339, type LogFilters } from './params.js';
import type { ApiLog } from './queries.js';

const KEEP_ALIVE_MS = 15_000;

function stringMap(attrs: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(attrs).sort()) out[k] = anyValueToString(attrs[k]!);
  return out;
}

/** A tail's filters, with its template resolved to every stored id of its lineage when it started. */
export interface TailFilters extends LogFilters {
  templateIds: ReadonlySet<string> | undefined;
}

function matches(f: TailFilters, log: ApiLog): boolean {
  if (f.minSeverity !== undefined && log.severity_number < f.minSeverity) return false;
  if (f.services.length > 0 && !f.services.includes(log.service_name)) return false;
  if (f.traceId !== undefined && log.trace_id !== f.traceId) return false;
  if (f.templateIds !== undefined && !f.templateIds.has(log.template_id) && !f.templateIds.has(log.current_template_id))
    return false;
  for (const [key, value] of f.attributes) {
    if (log.log_attributes[key] !== value && log.resource_attributes[key] !== value) return false;
  }
  if (f.tokens.length > 0) {
    const tokens = new Set(bodyTokens(log.body));
    if (!f.tokens.every((t) => tokens.has(t))) return false;
  }
  if (f.phrase !== undefined && !log.body.toLowerCase().includes(f.phrase.toLowerCase())) return false;
  return true;
}

interface Subscriber {
  filters: TailFilters;
  res: ServerResponse;
  /** Records written but not yet flushed by the socket; past the buffer the subscriber is too slow. */
  backlog: number;
  dropped: number;
}

/**
 * The tail: Server-Sent Events of the records handed to the store's exporter, once it accepted
 * them. Records are turned into the API's JSON only while someone listens. A subscriber whose
 * connection cannot keep up loses the records that find its buffer full, and is told how many in
 * a comment.
 */
export class Tail {
  private readonly subscribers = new Set<Subscriber>();
  private stopObserving: (() => void) | undefined;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(
    private readonly observe: (observer: ExportObserver) => () => void,
    private readonly bufferRecords: number,
  ) {}

  subscribe(filters: TailFilters, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(': tail started\n\n');
    const sub: Subscriber = { filters, res, backlog: 0, dropped: 0 };
    this.subscribers.add(sub);
    res.on('close', () => this.unsubscribe(sub));
    if (!this.stopObserving) {
      this.stopObserving = this.observe({ beforeExport: (batch) => this.collect(batch) });
      this.keepAlive = setInterval(() => {
        for (const s of this.subscribers) s.res.write(': keep-alive\n\n');
      }, KEEP_ALIVE_MS);
      this.keepAlive.unref();
    }
  }

  get size(): number {
    return this.subscribers.size;
  }

  private unsubscribe(sub: Subscriber): void {
    this.subscribers.delete(sub);
    if (this.subscribers.size > 0) return;
    this.stopObserving?.();
    this.stopObserving = undefined;
    clearInterval(this.keepAlive);
  }

  /** Reads the batch before the exporter owns it; sends once the exporter accepted it. */
  private collect(batch: LogBatch): (() => void) | undefined {
    const logs: ApiLog[] = [];
    for (const rl of batch.resourceLogs) {
      const resource = stringMap(rl.resource.attributes);
      const service = resource['service.name'] ?? '';
      for (const sl of rl.scopeLogs) {
        const scope = stringMap(sl.scope.attributes);
        for (const rec of sl.logRecords) {
          const time = rec.timeUnixNano !== 0n ? rec.timeUnixNano : rec.observedTimeUnixNano;
          const templateId = String(rec.templateId ?? 0n);
          // A spacing variant is stored under its own id and shown as the template it belongs to.
          const current = rec.template?.variantOf ?? rec.template;
          logs.push({
            timestamp: rfc3339(time),
            observed_timestamp: rfc3339(rec.observedTimeUnixNano),
            trace_id: rec.traceId,
            span_id: rec.spanId,
            trace_flags: rec.flags & 0xff,
            severity_text: rec.severityText,
            severity_number: rec.severityNumber,
            service_name: service,
            body: typeof rec.body === 'string' ? rec.body : anyValueToString(rec.body),
            resource_attributes: resource,
            scope_name: sl.scope.name,
            scope_version: sl.scope.version,
            scope_attributes: scope,
            log_attributes: stringMap(rec.attributes),
            template_id: templateId,
            current_template_id: current && templateId !== '0' ? String(current.id) : templateId,
            template: current && templateId !== '0' ? current.text : null,
            template_params: rec.templateParams ?? [],
          });
        }
      }
    }
    if (logs.length === 0) return undefined;
    return () => this.send(logs);
  }

  private send(logs: ApiLog[]): void {
    for (const sub of this.subscribers) {
      for (const log of logs) {
        if (!matches(sub.filters, log)) continue;
        if (sub.res.writableNeedDrain && sub.backlog >= this.bufferRecords) {
          sub.dropped++;
          continue;
        }
        if (sub.dropped > 0) {
          sub.res.write(`: dropped ${sub.dropped} records the connection could not take in time\n\n`);
          sub.dropped = 0;
        }
        sub.backlog = sub.res.writableNeedDrain ? sub.backlog + 1 : 0;
        sub.res.write(`event: log\ndata: ${JSON.stringify(log)}\n\n`);
      }
    }
  }

  close(): void {
    for (const sub of this.subscribers) sub.res.end();
    this.subscribers.clear();
    this.stopObserving?.();
    this.stopObserving = undefined;
    clearInterval(this.keepAlive);
  }
}
