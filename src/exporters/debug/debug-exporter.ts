import type { ComponentContext, Exporter } from '../../pipeline/component.js';
import { anyValueToString, countRecords, type Attributes, type LogBatch } from '../../pipeline/model.js';
import type { DebugConfig } from './config.js';

/** Prints what reaches it to stdout, like the OTel Collector's debug exporter. */
export class DebugExporter implements Exporter {
  constructor(
    private readonly config: DebugConfig,
    private readonly context: ComponentContext,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: LogBatch): Promise<void> {
    const n = countRecords(batch);
    this.context.telemetry.sent(n, 0);
    if (this.config.verbosity === 'basic') {
      this.out.write(`${this.context.id}: ${n} log records in ${batch.resourceLogs.length} resources\n`);
      return;
    }
    const lines: string[] = [];
    for (const rl of batch.resourceLogs) {
      if (this.config.verbosity === 'detailed')
        lines.push(`resource ${formatAttributes(rl.resource.attributes)} schema_url=${rl.schemaUrl}`);
      for (const sl of rl.scopeLogs) {
        if (this.config.verbosity === 'detailed')
          lines.push(`  scope ${sl.scope.name}@${sl.scope.version} ${formatAttributes(sl.scope.attributes)}`);
        for (const r of sl.logRecords) {
          let line =
            `${nanosToIso(r.timeUnixNano || r.observedTimeUnixNano)} ` +
            `${r.severityText || r.severityNumber} ${anyValueToString(r.body)}`;
          if (this.config.verbosity === 'detailed') {
            line +=
              ` attributes=${formatAttributes(r.attributes)} trace_id=${r.traceId} span_id=${r.spanId} ` +
              `flags=${r.flags} event_name=${r.eventName} observed=${r.observedTimeUnixNano}`;
          }
          lines.push(line);
        }
      }
    }
    this.out.write(`${lines.join('\n')}\n`);
  }
}

function formatAttributes(attrs: Attributes): string {
  return `{${Object.keys(attrs)
    .map((k) => `${k}=${anyValueToString(attrs[k]!)}`)
    .join(', ')}}`;
}

function nanosToIso(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}
