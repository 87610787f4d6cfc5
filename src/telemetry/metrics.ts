import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';
import type { ComponentKind } from '../pipeline/component-kind.js';

/**
 * The daemon's own metrics. Names follow the OTel Collector's internal telemetry
 * (otelcol_receiver_accepted_log_records …) with our prefix, so existing dashboards carry over.
 * This registry holds what every receiver, processor or exporter records; a component's own
 * instruments are declared in its folder's metrics.ts, through counter(), gauge() and histogram().
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
    help:
      'Requests or connections a receiver refused, by reason: unauthenticated, ' +
      'too_many_connections, tls_handshake_failed, not_found, method_not_allowed, ' +
      'unsupported_media_type, too_large, undecodable, invalid, back_pressure, shutting_down, ' +
      'rejected, unavailable; for gRPC also ended_before_message (grpc-js ended the call before ' +
      'the receiver saw its message: over max_recv_msg_size_mib, undecompressable, or cancelled).',
    labelNames: ['receiver', 'transport', 'reason'],
    registers: [this.registry],
  });
  readonly receiverUnrepresentableTimes = new Counter({
    name: 'otelhouse_receiver_unrepresentable_timestamps_total',
    help:
      'Record timestamps after 2262-04-11T23:47:16.854775807Z (beyond int64 nanoseconds and ' +
      'ClickHouse DateTime64(9)) that the receiver read as unset; the record takes its observed time.',
    labelNames: ['receiver', 'transport'],
    registers: [this.registry],
  });
  /** Kernel counters read when scraped, by receiver id. */
  private readonly udpDropSources = new Map<string, UdpDropSource>();
  readonly receiverUdpKernelDrops = new Counter({
    name: 'otelhouse_receiver_udp_kernel_drops_total',
    help:
      "Datagrams the kernel dropped on the receiver's UDP socket (receive buffer " +
      'full: the receiver did not read fast enough), from the drops column of ' +
      '/proc/net/udp and /proc/net/udp6. Absent where those files are not available.',
    labelNames: ['receiver'],
    registers: [this.registry],
    // Worker processes (service.workers) read one shared socket: each reports the same count.
    aggregator: 'max',
    collect: () => this.collectUdpDrops(),
  });
  readonly processorRefused = new Counter({
    name: 'otelhouse_processor_refused_log_records_total',
    help:
      'Log records a processor refused (the memory limiter above ' +
      'its soft limit); receivers answered with back-pressure.',
    labelNames: ['processor'],
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
    help:
      'Log records the exporter gave up on and wrote to its ' +
      'dead-letter directory, by reason (permanent, retries_exhausted).',
    labelNames: ['exporter', 'reason'],
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

  /**
   * The instrument of this name, registered on first use: the instances of one component type share
   * it, each under its own label.
   */
  counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return (
      (this.registry.getSingleMetric(config.name) as Counter<L> | undefined) ??
      new Counter({ ...config, registers: [this.registry] })
    );
  }

  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return (
      (this.registry.getSingleMetric(config.name) as Gauge<L> | undefined) ??
      new Gauge({ ...config, registers: [this.registry] })
    );
  }

  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return (
      (this.registry.getSingleMetric(config.name) as Histogram<L> | undefined) ??
      new Histogram({ ...config, registers: [this.registry] })
    );
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
    const out: Record<string, Record<string, Record<string, number>>> = {
      receivers: {},
      processors: {},
      exporters: {},
    };
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

  /**
   * Reports the kernel's drop count of this receiver's UDP socket when metrics are scraped, until
   * the returned function is called.
   */
  udpDropSource(read: () => Promise<number | undefined>): () => void {
    return this.telemetry.addUdpDropSource(this, read);
  }

  processorRefused(n: number): void {
    this.telemetry.processorRefused.inc({ processor: this.id }, n);
    this.add('refused', n);
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

  queueDamaged(n: number): void {
    this.telemetry.exporterQueueDamaged.inc({ exporter: this.id }, n);
    this.add('queue_damaged', n);
  }

  counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return this.telemetry.counter(config);
  }

  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return this.telemetry.gauge(config);
  }

  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return this.telemetry.histogram(config);
  }

  /** A count that only /stats shows (e.g. a debug exporter's total). */
  count(key: string, n = 1): void {
    this.add(key, n);
  }
}
