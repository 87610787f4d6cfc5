import type { ComponentContext, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { errorMessage } from '../../pipeline/errors.js';
import type { AnyValue, LogBatch, LogRecord } from '../../pipeline/model.js';
import { flattenJson, parseLogfmt, type Put } from './body-parsers.js';
import { inferSeverity } from './severity-inference.js';
import { TimestampLayout, parseEpoch, type EpochLayout } from './timestamp-layout.js';
import type { ParseConfig } from './config.js';
import { ParseMetrics } from './metrics.js';

const JSON_PARSED = 0;
const LOGFMT_PARSED = 1;
const INVALID_JSON = 2;
const TOO_LARGE = 3;
const TOO_DEEP = 4;
const SEVERITY = 5;
const TIMESTAMP = 6;
const TIMESTAMP_INVALID = 7;
const FAILED = 8;
const RESULTS = [
  'json',
  'logfmt',
  'invalid_json',
  'too_large',
  'too_deep',
  'severity',
  'timestamp',
  'timestamp_invalid',
  'error',
];

const insert: Put = (attrs, key, value) => {
  if (attrs[key] === undefined) attrs[key] = value;
};
const upsert: Put = (attrs, key, value) => {
  attrs[key] = value;
};

function isJsonObjectText(s: string): boolean {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) <= 32) i++;
  if (s.charCodeAt(i) !== 123) return false;
  let j = s.length - 1;
  while (j > i && s.charCodeAt(j) <= 32) j--;
  return s.charCodeAt(j) === 125;
}

/**
 * Turns text bodies into structure: JSON objects and logfmt into attributes, the timestamp out of
 * the text with a layout, and a severity for records that have none. A body that does not parse
 * is left as it is and counted; nothing is dropped.
 */
export class ParseProcessor implements Processor {
  private readonly metrics: ParseMetrics;
  private readonly put: Put;
  private readonly counts = new Int32Array(RESULTS.length);
  private readonly timestampField: string;
  private readonly layout: TimestampLayout | undefined;
  private readonly epoch: EpochLayout | undefined;
  private now = new Date();

  constructor(
    private readonly config: ParseConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.metrics = new ParseMetrics(context.telemetry);
    this.put = config.overwrite ? upsert : insert;
    this.timestampField = config.timestamp.field;
    this.layout = config.timestamp.compiled;
    this.epoch = config.timestamp.epoch;
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: LogBatch): Promise<void> {
    this.now = new Date();
    let firstError: unknown;
    for (const rl of batch.resourceLogs) {
      for (const sl of rl.scopeLogs) {
        const records = sl.logRecords;
        for (let i = 0; i < records.length; i++) {
          // A record the parser fails on goes on as far as it got; it never refuses its neighbours.
          try {
            this.parse(records[i]!);
          } catch (err) {
            this.counts[FAILED]!++;
            firstError ??= err;
          }
        }
      }
    }
    if (firstError !== undefined)
      this.context.logger.warn(
        { err: errorMessage(firstError), records: this.counts[FAILED] },
        'parse failed on some records; they were passed on without (all of) their parsing',
      );
    this.report();
    return this.next.consume(batch);
  }

  private parse(rec: LogRecord): void {
    const c = this.config;
    const body = rec.body;
    if (typeof body === 'string') {
      if (c.json.enabled && isJsonObjectText(body)) this.parseJson(rec, body);
      else if (c.logfmt.enabled) this.parseLogfmt(rec, body);
    }
    if (this.layout || this.epoch) this.extractTimestamp(rec);
    if (c.severity.enabled && rec.severityNumber === 0) {
      const found = inferSeverity(
        rec.severityText,
        rec.attributes,
        typeof rec.body === 'string' ? rec.body : undefined,
      );
      if (found) {
        rec.severityNumber = found.number;
        if (!rec.severityText) rec.severityText = found.text;
        this.counts[SEVERITY]!++;
      }
    }
  }

  private parseJson(rec: LogRecord, body: string): void {
    const c = this.config;
    if (body.length > c.json.max_size) {
      this.counts[TOO_LARGE]!++;
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      this.counts[INVALID_JSON]!++;
      return;
    }
    const obj = parsed as Record<string, unknown>;
    if (!flattenJson(obj, rec.attributes, this.put, c.json.max_depth, c.body_field)) this.counts[TOO_DEEP]!++;
    const newBody = c.body_field ? obj[c.body_field] : undefined;
    if (typeof newBody === 'string') rec.body = newBody;
    this.counts[JSON_PARSED]!++;
  }

  private parseLogfmt(rec: LogRecord, body: string): void {
    // Strict logfmt starts with a pair: a quick look at the first word rejects prose for free.
    if (this.config.logfmt.strict && !firstWordHasEquals(body)) return;
    const result = parseLogfmt(body, rec.attributes, this.put, this.config.logfmt.strict, this.config.body_field);
    if (!result) return;
    if (result.body !== undefined) rec.body = result.body;
    this.counts[LOGFMT_PARSED]!++;
  }

  private extractTimestamp(rec: LogRecord): void {
    const source: AnyValue | undefined = this.timestampField ? rec.attributes[this.timestampField] : rec.body;
    if (source === undefined || source === null) return;
    let ns: bigint | 'invalid' | undefined;
    if (this.epoch) ns = parseEpoch(source, this.epoch) ?? 'invalid';
    else if (typeof source === 'string') ns = this.layout!.find(source, this.now);
    if (ns === undefined) return;
    if (ns === 'invalid') {
      this.counts[TIMESTAMP_INVALID]!++;
      return;
    }
    rec.timeUnixNano = ns;
    this.counts[TIMESTAMP]!++;
  }

  private report(): void {
    for (let r = 0; r < RESULTS.length; r++) {
      if (this.counts[r] === 0) continue;
      this.metrics.parsed(RESULTS[r]!, this.counts[r]!);
      this.counts[r] = 0;
    }
  }
}

function firstWordHasEquals(s: string): boolean {
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61) return i > 0;
    if (c === 32 || c === 9 || c === 34) return false;
  }
  return false;
}
