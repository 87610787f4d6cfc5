import type { Counter, Gauge } from 'prom-client';
import type { ComponentTelemetry } from '../../telemetry/metrics.js';

/** The templates processor's instruments, its LLM refiner's included. */
export class TemplatesMetrics {
  private readonly templateRecords: Counter<'processor' | 'result'>;
  private readonly templatesNew: Counter<'processor'>;
  private readonly templatesLoaded: Gauge<'processor'>;
  private readonly templatesMatchRatio: Gauge<'processor'>;
  private readonly templatesNewPerMinute: Gauge<'processor'>;
  private readonly templatesPoolUtilization: Gauge<'processor'>;
  private readonly llmQueueSize: Gauge<'processor'>;
  private readonly llmDroppedTotal: Counter<'processor' | 'reason'>;
  private readonly llmRequests: Counter<'processor' | 'outcome'>;
  private readonly llmRetries: Counter<'processor'>;
  private readonly llmFailures: Counter<'processor' | 'reason'>;
  private readonly llmProposals: Counter<'processor' | 'result' | 'reason'>;
  private readonly llmTokens: Counter<'processor' | 'type'>;

  constructor(private readonly component: ComponentTelemetry) {
    this.templateRecords = component.counter({
      name: 'otelhouse_processor_templates_log_records_total',
      help:
        'Log records the templates processor handled, by result: matched (an ' +
        'existing template), mined (learned from it), skipped (no text to mine).',
      labelNames: ['processor', 'result'],
    });
    this.templatesNew = component.counter({
      name: 'otelhouse_processor_templates_new_total',
      help: 'Templates the miner created; rate(...[5m]) * 60 is new templates per minute.',
      labelNames: ['processor'],
    });
    this.templatesLoaded = component.gauge({
      name: 'otelhouse_processor_templates_loaded',
      help: 'Templates the templates processor holds (loaded from storage and mined).',
      labelNames: ['processor'],
      // With service.workers, each worker holds (about) the same set.
      aggregator: 'max',
    });
    this.templatesMatchRatio = component.gauge({
      name: 'otelhouse_processor_templates_match_ratio',
      help: 'Share of the records with text that matched an existing template, over the last minute.',
      labelNames: ['processor'],
      aggregator: 'average',
    });
    this.templatesNewPerMinute = component.gauge({
      name: 'otelhouse_processor_templates_new_per_minute',
      help: 'Templates created over the last minute.',
      labelNames: ['processor'],
    });
    this.templatesPoolUtilization = component.gauge({
      name: 'otelhouse_processor_templates_pool_utilization',
      help: 'Share of time the matching worker pool was busy since start (0 to 1).',
      labelNames: ['processor'],
      aggregator: 'average',
    });
    this.llmQueueSize = component.gauge({
      name: 'otelhouse_processor_templates_llm_queue_size',
      help: 'Templates waiting for an LLM review.',
      labelNames: ['processor'],
    });
    this.llmDroppedTotal = component.counter({
      name: 'otelhouse_processor_templates_llm_dropped_total',
      help: 'Templates not sent for LLM review because the queue was full.',
      labelNames: ['processor', 'reason'],
    });
    this.llmRequests = component.counter({
      name: 'otelhouse_processor_templates_llm_requests_total',
      help: 'Requests sent to the LLM, by outcome (success: an answer came back, whatever it said).',
      labelNames: ['processor', 'outcome'],
    });
    this.llmRetries = component.counter({
      name: 'otelhouse_processor_templates_llm_retries_total',
      help: 'LLM requests retried after a retryable failure (timeout, 429, 5xx, network, malformed answer).',
      labelNames: ['processor'],
    });
    this.llmFailures = component.counter({
      name: 'otelhouse_processor_templates_llm_failures_total',
      help: 'Template reviews given up, by reason; each covers a batch of templates.',
      labelNames: ['processor', 'reason'],
    });
    this.llmProposals = component.counter({
      name: 'otelhouse_processor_templates_llm_proposals_total',
      help: 'Templates the LLM proposed, by result (accepted, rejected, unchanged) and rejection reason.',
      labelNames: ['processor', 'result', 'reason'],
    });
    this.llmTokens = component.counter({
      name: 'otelhouse_processor_templates_llm_tokens_total',
      help: 'Tokens the LLM provider reported using, by type (prompt, completion).',
      labelNames: ['processor', 'type'],
    });
  }

  templates(matched: number, mined: number, skipped: number, created: number): void {
    if (matched) this.templateRecords.inc({ processor: this.component.id, result: 'matched' }, matched);
    if (mined) this.templateRecords.inc({ processor: this.component.id, result: 'mined' }, mined);
    if (skipped) this.templateRecords.inc({ processor: this.component.id, result: 'skipped' }, skipped);
    if (created) this.templatesNew.inc({ processor: this.component.id }, created);
    this.component.count('matched', matched);
    this.component.count('mined', mined);
    this.component.count('skipped', skipped);
    this.component.count('new_templates', created);
  }

  /** The templates processor's state, for /metrics and /stats. */
  templateState(state: {
    loaded: number;
    matchRatio: number;
    newPerMinute: number;
    poolUtilization: number;
    parallelThreshold: number;
    poolSize: number;
  }): void {
    this.templatesLoaded.set({ processor: this.component.id }, state.loaded);
    this.templatesMatchRatio.set({ processor: this.component.id }, state.matchRatio);
    this.templatesNewPerMinute.set({ processor: this.component.id }, state.newPerMinute);
    this.templatesPoolUtilization.set({ processor: this.component.id }, state.poolUtilization);
    this.component.counts['templates_loaded'] = state.loaded;
    this.component.counts['parallel_threshold'] = state.parallelThreshold;
    this.component.counts['pool_size'] = state.poolSize;
  }

  llmQueue(depth: number): void {
    this.llmQueueSize.set({ processor: this.component.id }, depth);
    this.component.counts['llm_queue_size'] = depth;
  }

  llmDropped(reason: string): void {
    this.llmDroppedTotal.inc({ processor: this.component.id, reason });
    this.component.count('llm_dropped', 1);
  }

  llmRequest(outcome: 'success' | 'failure', promptTokens: number, completionTokens: number): void {
    this.llmRequests.inc({ processor: this.component.id, outcome });
    if (promptTokens) this.llmTokens.inc({ processor: this.component.id, type: 'prompt' }, promptTokens);
    if (completionTokens) this.llmTokens.inc({ processor: this.component.id, type: 'completion' }, completionTokens);
    this.component.count('llm_requests', 1);
    this.component.count('llm_tokens', promptTokens + completionTokens);
  }

  llmRetry(): void {
    this.llmRetries.inc({ processor: this.component.id });
    this.component.count('llm_retries', 1);
  }

  llmFailure(reason: string): void {
    this.llmFailures.inc({ processor: this.component.id, reason });
    this.component.count('llm_failures', 1);
  }

  llmProposal(result: 'accepted' | 'rejected' | 'unchanged', reason = ''): void {
    this.llmProposals.inc({ processor: this.component.id, result, reason });
    this.component.count(`llm_${result}`, 1);
  }
}
