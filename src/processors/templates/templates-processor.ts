import type { ComponentContext, ComponentHealth, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { errorMessage } from '../../pipeline/errors.js';
import type { LogBatch, LogRecord } from '../../pipeline/model.js';
import { TemplateEngine } from '../../templates/engine.js';
import { defaultPoolSize } from '../../templates/pool.js';
import { DEFAULT_ENDPOINTS } from '../../templates/llm/providers.js';
import { LlmRefiner, type AcceptedTemplate } from '../../templates/llm/refiner.js';
import type { TemplatesConfig } from './config.js';
import { TemplatesMetrics } from './metrics.js';

const TEMPLATE_ATTRIBUTE = 'log.record.template';

/**
 * Matches each record to a log template and sets its TemplateId and TemplateParams, learning new
 * templates from what does not match. Templates stored by the pipeline's exporters are loaded at
 * start and refreshed, so a restarted or new pod matches from the first record.
 */
export class TemplatesProcessor implements Processor {
  private readonly metrics: TemplatesMetrics;
  private readonly engine: TemplateEngine;
  private readonly refiner: LlmRefiner | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly recent: Array<{ at: number; matched: number; total: number; created: number }> = [];

  constructor(
    private readonly config: TemplatesConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.metrics = new TemplatesMetrics(context.telemetry);
    const masking = config.masking.map((m) => m.regex);
    this.refiner = config.llm && this.createRefiner(config.llm, masking);
    this.engine = new TemplateEngine({
      miner: {
        similarity: config.similarity,
        depth: config.depth,
        generalizeAfter: config.generalize_after,
        maxTemplates: config.max_templates,
      },
      parallelThreshold: config.parallel_threshold,
      poolSize: config.pool_size ?? defaultPoolSize(context.worker?.count),
      masking,
      ...(this.refiner && { candidates: this.refiner }),
    });
  }

  private createRefiner(llm: NonNullable<TemplatesConfig['llm']>, masking: string[]): LlmRefiner {
    return new LlmRefiner(
      {
        provider: {
          provider: llm.provider,
          endpoint: llm.endpoint ?? DEFAULT_ENDPOINTS[llm.provider],
          model: llm.model,
          apiKey: llm.api_key,
          timeoutMs: llm.timeout,
        },
        batchSize: llm.batch_size,
        batchTimeoutMs: llm.batch_timeout,
        maxConcurrentBatches: llm.max_concurrent_batches,
        maxRetries: llm.max_retries,
        initialBackoffMs: llm.initial_backoff,
        maxQueue: llm.max_queue,
        dailyRequestBudget: llm.daily_request_budget,
        maxWildcardRatio: llm.max_wildcard_ratio,
        masking,
      },
      {
        adopt: (set, tokens) => this.engine.adopt(set, tokens, 'llm'),
        publish: () => this.engine.publish(),
        accepted: (accepted) => void this.store(accepted),
        queueDepth: (depth) => this.metrics.llmQueue(depth),
        dropped: (reason) => this.metrics.llmDropped(reason),
        request: (outcome, promptTokens, completionTokens) =>
          this.metrics.llmRequest(outcome, promptTokens, completionTokens),
        retry: () => this.metrics.llmRetry(),
        failure: (reason) => this.metrics.llmFailure(reason),
        proposal: (result, reason) => this.metrics.llmProposal(result, reason),
      },
      this.context.logger.child({ llm: llm.provider }),
    );
  }

  /** Writes an accepted template to storage now; records matching it later write it again. */
  private async store(accepted: AcceptedTemplate): Promise<void> {
    const services = this.config.per_service && accepted.set ? [accepted.set] : [];
    for (const store of this.context.templateStores ?? []) {
      try {
        await store.saveTemplates([{ template: accepted.template, sample: accepted.sample, services }]);
      } catch (err) {
        this.context.logger.warn(
          { err: errorMessage(err), template: accepted.template.text },
          'could not store an LLM template yet; records that match it will store it',
        );
      }
    }
  }

  async start(): Promise<void> {
    await this.load();
    if (this.config.refresh_interval > 0) {
      this.refreshTimer = setInterval(() => void this.load(), this.config.refresh_interval);
      this.refreshTimer.unref();
    }
    this.report(0, 0, 0);
  }

  async shutdown(): Promise<void> {
    clearInterval(this.refreshTimer);
    await this.refiner?.close();
    await this.engine.close();
  }

  health(): ComponentHealth {
    return {
      status: 'ok',
      templates_loaded: this.engine.templateCount,
      ...(this.refiner && { llm_queue_size: this.refiner.queueDepth }),
    };
  }

  async consume(batch: LogBatch): Promise<void> {
    const groups = new Map<string, { records: LogRecord[]; messages: string[] }>();
    let skipped = 0;
    for (const rl of batch.resourceLogs) {
      const service = rl.resource.attributes['service.name'];
      const set = this.config.per_service && typeof service === 'string' ? service : '';
      let group = groups.get(set);
      if (!group) {
        group = { records: [], messages: [] };
        groups.set(set, group);
      }
      for (const sl of rl.scopeLogs) {
        for (const rec of sl.logRecords) {
          const text = this.config.field === 'body' ? rec.body : rec.attributes[this.config.field];
          rec.templateId = 0n;
          rec.templateParams = [];
          rec.templateMined = false;
          if (typeof text !== 'string' || text.length === 0) {
            skipped++;
            continue;
          }
          group.records.push(rec);
          group.messages.push(text);
        }
      }
    }
    const before = { ...this.engine.counters };
    for (const [set, group] of groups) {
      if (group.records.length === 0) continue;
      const assignments = await this.engine.assign(set, group.messages);
      for (let i = 0; i < assignments.length; i++) {
        const { template, params, mined } = assignments[i]!;
        if (!template) {
          skipped++;
          continue;
        }
        const rec = group.records[i]!;
        rec.templateId = template.id;
        rec.templateParams = params;
        rec.templateMined = mined;
        rec.template = template;
        if (this.config.add_template_attribute) rec.attributes[TEMPLATE_ATTRIBUTE] = template.text;
      }
    }
    const c = this.engine.counters;
    if (c.unrenderable > before.unrenderable)
      this.context.telemetry.count('unrenderable', c.unrenderable - before.unrenderable);
    this.report(c.matched - before.matched, c.mined - before.mined, skipped, c.newTemplates - before.newTemplates);
    // Returned, not awaited: a suspended frame would keep the batch reachable (see LogsConsumer).
    return this.next.consume(batch);
  }

  private async load(): Promise<void> {
    for (const store of this.context.templateStores ?? []) {
      try {
        const stored = await store.loadTemplates(this.config.max_templates);
        for (const t of stored.reverse()) {
          if (this.config.per_service)
            for (const service of t.services) this.engine.seed(service, t.text, t.count, t.source);
          else this.engine.seed('', t.text, t.count, t.source);
        }
        this.engine.publish();
        this.context.logger.info(
          { templates: stored.length, loaded: this.engine.templateCount },
          'templates loaded from storage',
        );
      } catch (err) {
        this.context.logger.warn(
          { err: errorMessage(err) },
          'could not load templates from storage; mining from scratch',
        );
      }
    }
  }

  private report(matched: number, mined: number, skipped: number, created = 0): void {
    this.metrics.templates(matched, mined, skipped, created);
    const now = Date.now();
    this.recent.push({ at: now, matched, total: matched + mined, created });
    while (this.recent.length > 0 && this.recent[0]!.at < now - 60_000) this.recent.shift();
    let m = 0;
    let total = 0;
    let createdLastMinute = 0;
    for (const r of this.recent) {
      m += r.matched;
      total += r.total;
      createdLastMinute += r.created;
    }
    this.metrics.templateState({
      loaded: this.engine.templateCount,
      matchRatio: total > 0 ? m / total : 0,
      newPerMinute: createdLastMinute,
      poolUtilization: this.engine.poolUtilization,
      parallelThreshold: this.config.parallel_threshold,
      poolSize: this.engine.poolSize,
    });
  }
}
