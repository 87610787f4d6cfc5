import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ComponentKind } from '../pipeline/component-kind.js';

/**
 * The daemon's own metrics. Names follow the OTel Collector's internal telemetry
 * (otelcol_receiver_accepted_log_records …) with our prefix, so existing dashboards carry over.
 * Each component gets a ComponentTelemetry bound to its id; the same counts feed /stats.
 */
export class Telemetry {
  readonly registry = new Registry();
  private readonly components = new Map<string, ComponentTelemetry>();

  readonly receiverAccepted = new Counter({
    name: 'otelhouse_receiver_accepted_log_records_total',
    help: 'Log records the receiver accepted into the pipeline.',
    labelNames: ['receiver', 'transport'],
    registers: [this.registry],
  });
  readonly receiverRefused = new Counter({
    name: 'otelhouse_receiver_refused_log_records_total',
    help: 'Log records the receiver refused: undecodable, invalid, or refused by back-pressure.',
    labelNames: ['receiver', 'transport', 'reason'],
    registers: [this.registry],
  });
  readonly receiverRefusedRequests = new Counter({
    name: 'otelhouse_receiver_refused_requests_total',
    help: 'Requests or connections a receiver refused, by reason: unauthenticated, too_many_connections, tls_handshake_failed, not_found, method_not_allowed, unsupported_media_type, too_large, undecodable, invalid, back_pressure, shutting_down, rejected, unavailable; for gRPC also ended_before_message (grpc-js ended the call before the receiver saw its message: over max_recv_msg_size_mib, undecompressable, or cancelled).',
    labelNames: ['receiver', 'transport', 'reason'],
    registers: [this.registry],
  });
  readonly receiverUnrepresentableTimes = new Counter({
    name: 'otelhouse_receiver_unrepresentable_timestamps_total',
    help: 'Record timestamps after 2262-04-11T23:47:16.854775807Z (beyond int64 nanoseconds and ClickHouse DateTime64(9)) that the receiver read as unset; the record takes its observed time.',
    labelNames: ['receiver', 'transport'],
    registers: [this.registry],
  });
  /** Kernel counters read when scraped, by receiver id. */
  private readonly udpDropSources = new Map<string, UdpDropSource>();
  readonly receiverUdpKernelDrops = new Counter({
    name: 'otelhouse_receiver_udp_kernel_drops_total',
    help: 'Datagrams the kernel dropped on the receiver\'s UDP socket (receive buffer full: the receiver did not read fast enough), from the drops column of /proc/net/udp and /proc/net/udp6. Absent where those files are not available.',
    labelNames: ['receiver'],
    registers: [this.registry],
    collect: () => this.collectUdpDrops(),
  });
  readonly processorBatchSize = new Histogram({
    name: 'otelhouse_processor_batch_batch_send_size',
    help: 'Number of log records in each batch the batch processor sent on.',
    labelNames: ['processor'],
    buckets: [10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000],
    registers: [this.registry],
  });
  readonly processorBatchTrigger = new Counter({
    name: 'otelhouse_processor_batch_send_trigger_total',
    help: 'Why the batch processor sent a batch: size or timeout (or shutdown).',
    labelNames: ['processor', 'trigger'],
    registers: [this.registry],
  });
  readonly templateRecords = new Counter({
    name: 'otelhouse_processor_templates_log_records_total',
    help: 'Log records the templates processor handled, by result: matched (an existing template), mined (learned from it), skipped (no text to mine).',
    labelNames: ['processor', 'result'],
    registers: [this.registry],
  });
  readonly templatesNew = new Counter({
    name: 'otelhouse_processor_templates_new_total',
    help: 'Templates the miner created; rate(...[5m]) * 60 is new templates per minute.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly templatesLoaded = new Gauge({
    name: 'otelhouse_processor_templates_loaded',
    help: 'Templates the templates processor holds (loaded from storage and mined).',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly templatesMatchRatio = new Gauge({
    name: 'otelhouse_processor_templates_match_ratio',
    help: 'Share of the records with text that matched an existing template, over the last minute.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly templatesNewPerMinute = new Gauge({
    name: 'otelhouse_processor_templates_new_per_minute',
    help: 'Templates created over the last minute.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly templatesPoolUtilization = new Gauge({
    name: 'otelhouse_processor_templates_pool_utilization',
    help: 'Share of time the matching worker pool was busy since start (0 to 1).',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly processorRefused = new Counter({
    name: 'otelhouse_processor_refused_log_records_total',
    help: 'Log records a processor refused (the memory limiter above its soft limit); receivers answered with back-pressure.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly memoryLimiterRefusing = new Gauge({
    name: 'otelhouse_processor_memory_limiter_refusing',
    help: '1 while the memory limiter refuses data (resident memory above its soft limit), else 0.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly memoryLimiterForcedGc = new Counter({
    name: 'otelhouse_processor_memory_limiter_forced_gc_total',
    help: 'Full garbage collections the memory limiter forced while above its soft limit.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly memoryLimiterRss = new Gauge({
    name: 'otelhouse_processor_memory_limiter_rss_bytes',
    help: 'Resident memory at the memory limiter\'s last check.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly llmQueueSize = new Gauge({
    name: 'otelhouse_processor_templates_llm_queue_size',
    help: 'Templates waiting for an LLM review.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly llmDropped = new Counter({
    name: 'otelhouse_processor_templates_llm_dropped_total',
    help: 'Templates not sent for LLM review because the queue was full.',
    labelNames: ['processor', 'reason'],
    registers: [this.registry],
  });
  readonly llmRequests = new Counter({
    name: 'otelhouse_processor_templates_llm_requests_total',
    help: 'Requests sent to the LLM, by outcome (success: an answer came back, whatever it said).',
    labelNames: ['processor', 'outcome'],
    registers: [this.registry],
  });
  readonly llmRetries = new Counter({
    name: 'otelhouse_processor_templates_llm_retries_total',
    help: 'LLM requests retried after a retryable failure (timeout, 429, 5xx, network, malformed answer).',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly llmFailures = new Counter({
    name: 'otelhouse_processor_templates_llm_failures_total',
    help: 'Template reviews given up, by reason; each covers a batch of templates.',
    labelNames: ['processor', 'reason'],
    registers: [this.registry],
  });
  readonly llmProposals = new Counter({
    name: 'otelhouse_processor_templates_llm_proposals_total',
    help: 'Templates the LLM proposed, by result (accepted, rejected, unchanged) and rejection reason.',
    labelNames: ['processor', 'result', 'reason'],
    registers: [this.registry],
  });
  readonly llmTokens = new Counter({
    name: 'otelhouse_processor_templates_llm_tokens_total',
    help: 'Tokens the LLM provider reported using, by type (prompt, completion).',
    labelNames: ['processor', 'type'],
    registers: [this.registry],
  });
  readonly processorConvertFailed = new Counter({
    name: 'otelhouse_processor_convert_failed_total',
    help: 'Values a convert action (attributes, resource processors) could not convert; the record was kept with the value unchanged.',
    labelNames: ['processor', 'key'],
    registers: [this.registry],
  });
  readonly filterDropped = new Counter({
    name: 'otelhouse_processor_filter_dropped_log_records_total',
    help: 'Log records the filter processor dropped, by the rule that dropped them.',
    labelNames: ['processor', 'rule'],
    registers: [this.registry],
  });
  readonly filterErrors = new Counter({
    name: 'otelhouse_processor_filter_errors_total',
    help: 'Filter conditions that failed to evaluate on a record (handled by error_mode).',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly redactionMasked = new Counter({
    name: 'otelhouse_processor_redaction_masked_total',
    help: 'Values the redaction processor masked, by the detector that found them (never the values).',
    labelNames: ['processor', 'detector'],
    registers: [this.registry],
  });
  readonly redactionDeleted = new Counter({
    name: 'otelhouse_processor_redaction_deleted_attributes_total',
    help: 'Attributes the redaction processor removed because they are not in allowed_keys.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly parseRecords = new Counter({
    name: 'otelhouse_processor_parse_log_records_total',
    help: 'What the parse processor did, by result: json, logfmt, severity, timestamp (parsed); invalid_json, too_large, too_deep, timestamp_invalid (left as they were).',
    labelNames: ['processor', 'result'],
    registers: [this.registry],
  });
  readonly exporterSent = new Counter({
    name: 'otelhouse_exporter_sent_log_records_total',
    help: 'Log records the exporter stored or forwarded successfully.',
    labelNames: ['exporter'],
    registers: [this.registry],
  });
  readonly exporterFailed = new Counter({
    name: 'otelhouse_exporter_send_failed_log_records_total',
    help: 'Log records the exporter gave up on (permanent error or retries exhausted).',
    labelNames: ['exporter', 'reason'],
    registers: [this.registry],
  });
  readonly exporterRetries = new Counter({
    name: 'otelhouse_exporter_retries_total',
    help: 'Export attempts that failed with a retryable error and were retried.',
    labelNames: ['exporter'],
    registers: [this.registry],
  });
  readonly exporterLatency = new Histogram({
    name: 'otelhouse_exporter_send_duration_seconds',
    help: 'Duration of one successful export attempt (encode and insert).',
    labelNames: ['exporter'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly exporterQueueSize = new Gauge({
    name: 'otelhouse_exporter_queue_size',
    help: 'Log records waiting in the exporter sending queue.',
    labelNames: ['exporter'],
    registers: [this.registry],
  });
  readonly exporterQueueBytes = new Gauge({
    name: 'otelhouse_exporter_queue_bytes',
    help: 'Bytes of payload waiting in the exporter sending queue (on disk with a persistent queue).',
    labelNames: ['exporter'],
    registers: [this.registry],
  });
  readonly exporterDeadLetter = new Counter({
    name: 'otelhouse_exporter_dead_letter_log_records_total',
    help: 'Log records the exporter gave up on and wrote to its dead-letter directory, by reason (permanent, retries_exhausted).',
    labelNames: ['exporter', 'reason'],
    registers: [this.registry],
  });
  readonly exporterExpired = new Counter({
    name: 'otelhouse_exporter_expired_log_records_total',
    help: 'Log records older than the exporter\'s ttl when they reached it: still sent, and dropped by ClickHouse with their part.',
    labelNames: ['exporter'],
    registers: [this.registry],
  });
  readonly exporterQueueDamaged = new Counter({
    name: 'otelhouse_exporter_queue_damaged_records_total',
    help: 'Damaged records (torn writes, bad checksums) skipped in the persistent sending queue.',
    labelNames: ['exporter'],
    registers: [this.registry],
  });
  readonly exporterQueueCapacity = new Gauge({
    name: 'otelhouse_exporter_queue_capacity',
    help: 'Capacity of the exporter sending queue in log records.',
    labelNames: ['exporter'],
    registers: [this.registry],
  });

  constructor() {
    // prom-client's default names already begin with process_ or nodejs_.
    collectDefaultMetrics({ register: this.registry, prefix: 'otelhouse_' });
  }

  forComponent(kind: ComponentKind, id: string): ComponentTelemetry {
    // Ids are unique per kind only: `otlp` may be a receiver and an exporter of the same config.
    const key = `${kind}/${id}`;
    let t = this.components.get(key);
    if (!t) {
      t = new ComponentTelemetry(this, kind, id);
      this.components.set(key, t);
    }
    return t;
  }

  /** Registers the reader of a receiver's kernel UDP drop count; returns the function that removes it. */
  addUdpDropSource(receiver: ComponentTelemetry, read: () => Promise<number | undefined>): () => void {
    const source: UdpDropSource = { receiver, read, reported: 0 };
    this.udpDropSources.set(receiver.id, source);
    return () => {
      if (this.udpDropSources.get(receiver.id) === source) this.udpDropSources.delete(receiver.id);
    };
  }

  private async collectUdpDrops(): Promise<void> {
    await Promise.all(
      [...this.udpDropSources.values()].map(async (source) => {
        const drops = await source.read();
        if (drops === undefined) return;
        // A socket opened again (a restarted receiver) starts counting from 0.
        if (drops < source.reported) source.reported = 0;
        this.receiverUdpKernelDrops.inc({ receiver: source.receiver.id }, drops - source.reported);
        source.reported = drops;
      }),
    );
  }

  /** Counts per component for /stats. */
  stats(): Record<string, Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, Record<string, number>>> = { receivers: {}, processors: {}, exporters: {} };
    for (const t of this.components.values()) (out[`${t.kind}s`] ??= {})[t.id] = { ...t.counts };
    return out;
  }
}

interface UdpDropSource {
  receiver: ComponentTelemetry;
  read: () => Promise<number | undefined>;
  /** The kernel's count when last added to the counter. */
  reported: number;
}

/** Why a receiver refused a whole request or connection (otelhouse_receiver_refused_requests_total). */
export type RequestRefusalReason =
  | 'unauthenticated'
  | 'too_many_connections'
  | 'tls_handshake_failed'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'too_large'
  | 'undecodable'
  | 'invalid'
  | 'back_pressure'
  | 'shutting_down'
  | 'rejected'
  | 'unavailable'
  | 'ended_before_message';

/** The metrics one component instance records, labelled with its id. */
export class ComponentTelemetry {
  readonly counts: Record<string, number> = Object.create(null);

  constructor(
    private readonly telemetry: Telemetry,
    readonly kind: ComponentKind,
    readonly id: string,
  ) {}

  private add(key: string, n: number): void {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }

  accepted(n: number, transport: string): void {
    this.telemetry.receiverAccepted.inc({ receiver: this.id, transport }, n);
    this.add('accepted', n);
  }

  refused(n: number, transport: string, reason: string): void {
    this.telemetry.receiverRefused.inc({ receiver: this.id, transport, reason }, n);
    this.add('refused', n);
  }

  /** A request or connection refused; /stats counts it under the reason. */
  refusedRequest(transport: string, reason: RequestRefusalReason): void {
    this.telemetry.receiverRefusedRequests.inc({ receiver: this.id, transport, reason });
    this.add(reason, 1);
  }

  /** Timestamps of accepted records read as unset because they are later than int64 nanoseconds hold. */
  unrepresentableTimes(n: number, transport: string): void {
    this.telemetry.receiverUnrepresentableTimes.inc({ receiver: this.id, transport }, n);
    this.add('unrepresentable_timestamps', n);
  }

  /** Reports the kernel's drop count of this receiver's UDP socket when metrics are scraped, until the returned function is called. */
  udpDropSource(read: () => Promise<number | undefined>): () => void {
    return this.telemetry.addUdpDropSource(this, read);
  }

  batchSent(n: number, trigger: 'size' | 'timeout' | 'shutdown'): void {
    this.telemetry.processorBatchSize.observe({ processor: this.id }, n);
    this.telemetry.processorBatchTrigger.inc({ processor: this.id, trigger });
    this.add('batches', 1);
    this.add('records', n);
  }

  processorRefused(n: number): void {
    this.telemetry.processorRefused.inc({ processor: this.id }, n);
    this.add('refused', n);
  }

  /** The memory limiter's last check, for /metrics and /stats. */
  memoryState(rssBytes: number, softLimitBytes: number, hardLimitBytes: number, refusing: boolean): void {
    this.telemetry.memoryLimiterRefusing.set({ processor: this.id }, refusing ? 1 : 0);
    this.telemetry.memoryLimiterRss.set({ processor: this.id }, rssBytes);
    this.counts['rss_mib'] = Math.round(rssBytes / 1048576);
    this.counts['soft_limit_mib'] = Math.round(softLimitBytes / 1048576);
    this.counts['limit_mib'] = Math.round(hardLimitBytes / 1048576);
    this.counts['refusing'] = refusing ? 1 : 0;
  }

  forcedGc(): void {
    this.telemetry.memoryLimiterForcedGc.inc({ processor: this.id });
    this.add('forced_gc', 1);
  }

  sent(n: number, seconds: number): void {
    this.telemetry.exporterSent.inc({ exporter: this.id }, n);
    this.telemetry.exporterLatency.observe({ exporter: this.id }, seconds);
    this.add('exported', n);
  }

  failed(n: number, reason: 'permanent' | 'retries_exhausted' | 'shutdown' | 'queue_damaged' | 'rejected'): void {
    this.telemetry.exporterFailed.inc({ exporter: this.id, reason }, n);
    this.add('failed', n);
  }

  retried(): void {
    this.telemetry.exporterRetries.inc({ exporter: this.id });
    this.add('retries', 1);
  }

  queue(size: number, capacity: number, bytes = 0): void {
    this.telemetry.exporterQueueSize.set({ exporter: this.id }, size);
    this.telemetry.exporterQueueCapacity.set({ exporter: this.id }, capacity);
    this.telemetry.exporterQueueBytes.set({ exporter: this.id }, bytes);
    this.counts['queue_size'] = size;
    this.counts['queue_bytes'] = bytes;
  }

  deadLettered(n: number, reason: 'permanent' | 'retries_exhausted'): void {
    this.telemetry.exporterDeadLetter.inc({ exporter: this.id, reason }, n);
    this.add('dead_lettered', n);
  }

  expired(n: number): void {
    this.telemetry.exporterExpired.inc({ exporter: this.id }, n);
    this.add('expired', n);
  }

  queueDamaged(n: number): void {
    this.telemetry.exporterQueueDamaged.inc({ exporter: this.id }, n);
    this.add('queue_damaged', n);
  }

  templates(matched: number, mined: number, skipped: number, created: number): void {
    const t = this.telemetry;
    if (matched) t.templateRecords.inc({ processor: this.id, result: 'matched' }, matched);
    if (mined) t.templateRecords.inc({ processor: this.id, result: 'mined' }, mined);
    if (skipped) t.templateRecords.inc({ processor: this.id, result: 'skipped' }, skipped);
    if (created) t.templatesNew.inc({ processor: this.id }, created);
    this.add('matched', matched);
    this.add('mined', mined);
    this.add('skipped', skipped);
    this.add('new_templates', created);
  }

  /** The templates processor's state, for /metrics and /stats. */
  templateState(state: { loaded: number; matchRatio: number; newPerMinute: number; poolUtilization: number; parallelThreshold: number; poolSize: number }): void {
    const t = this.telemetry;
    t.templatesLoaded.set({ processor: this.id }, state.loaded);
    t.templatesMatchRatio.set({ processor: this.id }, state.matchRatio);
    t.templatesNewPerMinute.set({ processor: this.id }, state.newPerMinute);
    t.templatesPoolUtilization.set({ processor: this.id }, state.poolUtilization);
    this.counts['templates_loaded'] = state.loaded;
    this.counts['parallel_threshold'] = state.parallelThreshold;
    this.counts['pool_size'] = state.poolSize;
  }

  llmQueue(depth: number): void {
    this.telemetry.llmQueueSize.set({ processor: this.id }, depth);
    this.counts['llm_queue_size'] = depth;
  }

  llmDropped(reason: string): void {
    this.telemetry.llmDropped.inc({ processor: this.id, reason });
    this.add('llm_dropped', 1);
  }

  llmRequest(outcome: 'success' | 'failure', promptTokens: number, completionTokens: number): void {
    const t = this.telemetry;
    t.llmRequests.inc({ processor: this.id, outcome });
    if (promptTokens) t.llmTokens.inc({ processor: this.id, type: 'prompt' }, promptTokens);
    if (completionTokens) t.llmTokens.inc({ processor: this.id, type: 'completion' }, completionTokens);
    this.add('llm_requests', 1);
    this.add('llm_tokens', promptTokens + completionTokens);
  }

  llmRetry(): void {
    this.telemetry.llmRetries.inc({ processor: this.id });
    this.add('llm_retries', 1);
  }

  llmFailure(reason: string): void {
    this.telemetry.llmFailures.inc({ processor: this.id, reason });
    this.add('llm_failures', 1);
  }

  llmProposal(result: 'accepted' | 'rejected' | 'unchanged', reason = ''): void {
    this.telemetry.llmProposals.inc({ processor: this.id, result, reason });
    this.add(`llm_${result}`, 1);
  }

  /** A convert action's failures on one attribute key (the record is kept, the value unchanged). */
  convertFailed(key: string, n: number): void {
    this.telemetry.processorConvertFailed.inc({ processor: this.id, key }, n);
    this.add('convert_failed', n);
  }

  /** Records the filter processor dropped, by rule (min_severity, log_record, include, exclude). */
  filterDropped(rule: string, n: number): void {
    this.telemetry.filterDropped.inc({ processor: this.id, rule }, n);
    this.add('dropped', n);
  }

  filterErrors(n: number): void {
    this.telemetry.filterErrors.inc({ processor: this.id }, n);
    this.add('errors', n);
  }

  /** Values masked by one redaction detector. */
  masked(detector: string, n: number): void {
    this.telemetry.redactionMasked.inc({ processor: this.id, detector }, n);
    this.add(`masked_${detector}`, n);
  }

  redactionDeleted(n: number): void {
    this.telemetry.redactionDeleted.inc({ processor: this.id }, n);
    this.add('deleted_attributes', n);
  }

  /** One kind of parse processor outcome. */
  parsed(result: string, n: number): void {
    this.telemetry.parseRecords.inc({ processor: this.id, result }, n);
    this.add(result, n);
  }

  /** A count that only /stats shows (e.g. a debug exporter's total). */
  count(key: string, n = 1): void {
    this.add(key, n);
  }
}
