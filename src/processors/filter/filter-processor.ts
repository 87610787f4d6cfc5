import type { ComponentContext, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { RejectedBatchError } from '../../pipeline/errors.js';
import { countRecords, type LogBatch, type LogRecord } from '../../pipeline/model.js';
import { type RecordMatcher } from '../shared/match.js';
import { OttlEvaluationError, type OttlCondition, type OttlContext } from './ottl.js';
import type { FilterConfig } from './config.js';
import { FilterMetrics } from './metrics.js';

const MIN_SEVERITY = 0;
const INCLUDE = 1;
const EXCLUDE = 2;
const CONDITION = 3;
const RULES = ['min_severity', 'include', 'exclude', 'log_record'];
const WARNING_INTERVAL_MS = 60_000;

/**
 * The OTel Collector's filter processor for logs: drops records below a severity, outside an
 * include match, inside an exclude match, or matching an OTTL condition. Every record is judged
 * before any is removed, then the batch is compacted in place; an empty batch goes no further.
 */
export class FilterProcessor implements Processor {
  private readonly metrics: FilterMetrics;
  private readonly minSeverity: number;
  private readonly include: RecordMatcher | undefined;
  private readonly exclude: RecordMatcher | undefined;
  private readonly conditions: OttlCondition[];
  private readonly conditionTexts: string[];
  private readonly errorMode: FilterConfig['error_mode'];
  private readonly dropped = new Int32Array(RULES.length);
  private readonly ctx: OttlContext;
  /** Per record of the batch in hand, in order: 1 to keep it. */
  private keep = new Uint8Array(1024);
  private errors = 0;
  private firstError: unknown;
  /** ignore mode logs at most one warning a minute, with the errors counted since the last one. */
  private lastWarning = 0;
  private errorsSinceWarning = 0;

  constructor(
    config: FilterConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.metrics = new FilterMetrics(context.telemetry);
    this.minSeverity = config.min_severity ?? 0;
    this.include = config.logs.include;
    this.exclude = config.logs.exclude;
    this.conditions = config.logs.log_record.map((c) => c.test);
    this.conditionTexts = config.logs.log_record.map((c) => c.text);
    this.errorMode = config.error_mode;
    this.ctx = {
      record: undefined as unknown as LogRecord,
      scope: undefined as unknown as OttlContext['scope'],
      resource: undefined as unknown as OttlContext['resource'],
    };
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: LogBatch): Promise<void> {
    this.dropped.fill(0);
    this.errors = 0;
    this.firstError = undefined;
    const total = countRecords(batch);
    if (this.keep.length < total) this.keep = new Uint8Array(Math.max(total, this.keep.length * 2));
    let kept: number;
    try {
      kept = this.decide(batch);
    } catch (err) {
      // The batch is refused as a whole and left as it came: nothing was dropped by a rule, only the errors count.
      this.metrics.filterErrors(this.errors);
      throw err;
    }
    if (kept < total) this.compact(batch);
    this.report();
    if (kept > 0) return this.next.consume(batch);
  }

  /**
   * Runs the rules on every record and notes in `keep` which stay, without changing the batch: a
   * condition that throws (error_mode: propagate) leaves the batch whole for whoever holds it.
   */
  private decide(batch: LogBatch): number {
    const keep = this.keep;
    const include = this.include;
    const exclude = this.exclude;
    let n = 0;
    let kept = 0;
    const resourceLogs = batch.resourceLogs;
    for (let i = 0; i < resourceLogs.length; i++) {
      const rl = resourceLogs[i]!;
      const includeResource = !include || include.resource(rl.resource);
      const excludeResource = !!exclude && exclude.resource(rl.resource);
      this.ctx.resource = rl.resource;
      for (let j = 0; j < rl.scopeLogs.length; j++) {
        const sl = rl.scopeLogs[j]!;
        this.ctx.scope = sl.scope;
        const includeOuter = !include || (includeResource && include.scope(sl.scope));
        const excludeOuter = !!exclude && excludeResource && exclude.scope(sl.scope);
        const records = sl.logRecords;
        for (let k = 0; k < records.length; k++) {
          const rule = this.dropRule(records[k]!, includeOuter, excludeOuter);
          if (rule < 0) {
            keep[n++] = 1;
            kept++;
          } else {
            keep[n++] = 0;
            this.dropped[rule]!++;
          }
        }
      }
    }
    return kept;
  }

  /** Removes the records `decide` dropped, in place, and the scopes and resources left empty. */
  private compact(batch: LogBatch): void {
    const keep = this.keep;
    let n = 0;
    let w = 0;
    const resourceLogs = batch.resourceLogs;
    for (let i = 0; i < resourceLogs.length; i++) {
      const rl = resourceLogs[i]!;
      let sw = 0;
      for (let j = 0; j < rl.scopeLogs.length; j++) {
        const sl = rl.scopeLogs[j]!;
        const records = sl.logRecords;
        let rw = 0;
        for (let k = 0; k < records.length; k++) if (keep[n++] === 1) records[rw++] = records[k]!;
        records.length = rw;
        if (rw > 0) rl.scopeLogs[sw++] = sl;
      }
      rl.scopeLogs.length = sw;
      if (sw > 0) resourceLogs[w++] = rl;
    }
    resourceLogs.length = w;
  }

  /** The rule that drops this record, or -1 to keep it. */
  private dropRule(rec: LogRecord, includeOuter: boolean, excludeOuter: boolean): number {
    if (rec.severityNumber > 0 && rec.severityNumber < this.minSeverity) return MIN_SEVERITY;
    if (this.include && (!includeOuter || (this.include.recordLevel && !this.include.record(rec)))) return INCLUDE;
    if (excludeOuter && (!this.exclude!.recordLevel || this.exclude!.record(rec))) return EXCLUDE;
    const conditions = this.conditions;
    if (conditions.length === 0) return -1;
    this.ctx.record = rec;
    for (let c = 0; c < conditions.length; c++) {
      try {
        if (conditions[c]!(this.ctx)) return CONDITION;
      } catch (err) {
        if (!(err instanceof OttlEvaluationError)) throw err;
        this.errors++;
        if (this.errorMode === 'propagate')
          throw new RejectedBatchError(
            `${this.context.id}: condition ${JSON.stringify(this.conditionTexts[c])} failed: ${err.message}`,
            { cause: err },
          );
        this.firstError ??= { condition: this.conditionTexts[c], err: err.message };
      }
    }
    return -1;
  }

  private report(): void {
    for (let r = 0; r < RULES.length; r++)
      if (this.dropped[r]! > 0) this.metrics.filterDropped(RULES[r]!, this.dropped[r]!);
    if (this.errors === 0) return;
    this.metrics.filterErrors(this.errors);
    this.errorsSinceWarning += this.errors;
    const now = Date.now();
    if (this.errorMode === 'ignore' && this.firstError && now - this.lastWarning >= WARNING_INTERVAL_MS) {
      this.context.logger.warn(
        { errors: this.errorsSinceWarning, example: this.firstError },
        'filter conditions failed to evaluate; those records were kept',
      );
      this.lastWarning = now;
      this.errorsSinceWarning = 0;
    }
  }
}
