import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { resolve as resolvePath, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ComponentContext, ComponentHealth, Exporter } from '../pipeline/component.js';
import type { ExporterHelperConfig, RetryOnFailureConfig, SendingQueueConfig } from './config.js';
import { DeadLetterDirectory, safeDirName, type DeadLetterEntry, type DeadLetterFile } from './dead-letter.js';
import { DiskQueue, type StoredRecord } from './disk-queue.js';
import {
  BackPressureError,
  PermanentExportError,
  RetryableExportError,
  ShuttingDownError,
  errorMessage,
} from '../pipeline/errors.js';
import { countRecords, type LogBatch } from '../pipeline/model.js';
import { RoomWaiters } from '../pipeline/room-wait.js';
import { ExponentialBackoff, type BackoffSettings } from '../internal/backoff.js';
import { waitUntilDeadline } from '../internal/deadline.js';

/** A payload as bytes and back, for a persistent queue; byteLength may be an estimate (max_bytes). */
export interface PayloadCodec<P> {
  encode(payload: P): Uint8Array;
  decode(bytes: Uint8Array): P;
  byteLength(payload: P): number;
}

/** For exporters whose payload already is bytes. */
export const bytesCodec: PayloadCodec<Uint8Array> = {
  encode: (p) => p,
  decode: (b) => b,
  byteLength: (p) => p.byteLength,
};

/**
 * How an exporter sends. `prepare` turns a batch into what is queued and sent, when it enters the
 * queue: an encoded payload is several times smaller than the batch it came from, so a full queue
 * costs less memory. `attempt` sends it once; `token` is stable across the retries of one batch,
 * and across restarts with a persistent queue, so a sink that deduplicates on it (ClickHouse's
 * insert_deduplication_token) stores a retried or replayed batch once. `codec` is needed for
 * `storage` and `max_bytes`; `deadLetterFiles` says how a given-up batch is written for people to
 * read (the codec's bytes otherwise).
 */
export interface ExportSender<P> {
  prepare(batch: LogBatch): P;
  /** For `sending_queue.batch`: a payload built from batches added as they arrive. */
  builder?(): PayloadBuilder<P>;
  /** `attempt` counts this batch's attempts from 1. */
  attempt(payload: P, records: number, token: string, attempt: number): Promise<void | ExportOutcome>;
  codec?: PayloadCodec<P>;
  deadLetterFiles?(payload: P, token: string): DeadLetterFile[];
  /** Connects, before the queue's consumers start (and before a disk queue replays). */
  start?(): Promise<void>;
  /** Disconnects, once the queue has stopped sending. */
  stop?(): Promise<void>;
  /** What the exporter adds to its /health entry (its connection, its endpoint). */
  health?(): Record<string, unknown>;
}

/** A sink that took the batch but refused some of its records (OTLP partial_success, rows ClickHouse refused). */
export interface ExportOutcome {
  /** Records the sink will never store: counted as failed, not retried. */
  rejected: number;
  /** The refused records as files for the dead-letter directory, and why they were refused. */
  deadLetter?: { error: string; files: DeadLetterFile[] };
}

/**
 * One payload built from many batches: each is encoded when it is added, so the records of a
 * request are garbage once it is added rather than held until the batch is full.
 */
export interface PayloadBuilder<P> {
  /** Encodes the batch into the payload; if it throws, the payload is as it was before. */
  add(batch: LogBatch): void;
  /** The payload of every batch added; the builder is done with. */
  finish(): P;
}

/** The batch `sending_queue.batch` is filling, and the callers whose records are in it. */
interface OpenBatch<P> {
  builder: PayloadBuilder<P>;
  records: number;
  waiting: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
  timer: NodeJS.Timeout;
}

interface QueueItem<P> {
  /** Undefined when it is only on disk (replayed, or beyond the in-memory cache). */
  payload: P | undefined;
  records: number;
  bytes: number;
  token: string;
  stored: StoredRecord | undefined;
  /** Set when it was put back behind the batches waiting after it, to be retried from here. */
  retry?: RetryState;
}

interface RetryState {
  /** Attempts made so far, when the first was made, its back-off, and when it may be tried again. */
  attempts: number;
  started: number;
  backoff: ExponentialBackoff;
  readyAt: number;
  /** Put back once already to see whether the sink takes other batches. */
  probed: boolean;
}

/**
 * sent: delivered. given_up: dead-lettered (or dropped, without a dead-letter directory).
 * deferred: the shutdown deadline came first. refused: not exported and not kept (sending_queue
 * disabled, and the dead-letter directory cannot be written): the caller is told to send it again.
 */
type Outcome = 'sent' | 'given_up' | 'deferred' | 'refused' | 'requeued';

/** Payloads of a persistent queue also kept in memory, so consumers that keep up never read the disk. */
const DISK_QUEUE_MEMORY_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * The exporter half every exporter shares: a bounded queue (in memory, or on disk with `storage`)
 * drained by `num_consumers` workers, each retrying retryable failures with exponential back-off
 * and jitter, and handing what it gives up on to the dead-letter directory. consume() resolves
 * once the batch is queued (written to the disk queue, when there is one) and refuses with
 * BackPressureError when the queue is full, so a slow sink slows the receivers instead of
 * growing memory.
 */
export class QueuedExporter<P> implements Exporter {
  private readonly items: QueueItem<P>[] = [];
  private queuedRecords = 0;
  private queuedBytes = 0;
  private cachedBytes = 0;
  private closing = false;
  private draining = false;
  private lastError = '';
  private consecutiveFailures = 0;
  /** When the sink last took a batch (ms): a batch failing since before then fails on its own. */
  private lastSuccessAt = 0;
  /** Records whose export the shutdown deadline cut short in a consumer. */
  private deferredRecords = 0;
  private readonly wakeups: Array<() => void> = [];
  /** Requests waiting for room in a full queue. */
  private readonly room = new RoomWaiters();
  private workers: Promise<void>[] = [];
  /** The shutdown deadline, known from prepareShutdown on; retries and back-offs end there. */
  private deadline = Infinity;
  /** Aborted when the deadline is set, to cut back-offs that were sized without it. */
  private deadlineSet = new AbortController();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlinePassed = false;
  /** Callers of an export without a queue, answered at the deadline if their export is not done. */
  private readonly atDeadline = new Set<() => void>();
  /** Set once shutdown stopped waiting for the workers: a late finisher changes no counts. */
  private stopped = false;
  private disk: DiskQueue | undefined;
  private adoptTimer: NodeJS.Timeout | undefined;
  private readonly deadLetter: DeadLetterDirectory | undefined;
  /** With sending_queue.batch: the batch being filled, and the filled ones being queued. */
  private open: OpenBatch<P> | undefined;
  private readonly flushing = new Set<Promise<void>>();

  private readonly queueConfig: SendingQueueConfig;
  private readonly retryConfig: RetryOnFailureConfig;

  constructor(
    private readonly context: ComponentContext,
    config: ExporterHelperConfig,
    private readonly sender: ExportSender<P>,
  ) {
    // The limits are the whole service's: each of service.workers processes has its share, and
    // an insert being filled never needs more than that share to be queued.
    const workers = context.worker?.count ?? 1;
    const { batch } = config.sending_queue;
    const queueSize = Math.max(1, Math.floor(config.sending_queue.queue_size / workers));
    this.queueConfig =
      workers === 1
        ? config.sending_queue
        : {
            ...config.sending_queue,
            queue_size: queueSize,
            max_bytes: Math.floor(config.sending_queue.max_bytes / workers),
            batch: batch && { ...batch, min_size: Math.min(batch.min_size, queueSize) },
          };
    this.retryConfig = config.retry_on_failure;
    if ((this.queueConfig.storage !== undefined || this.queueConfig.max_bytes > 0) && !sender.codec) {
      throw new Error(
        `${context.id}: this exporter cannot size or store its payloads ` +
          `(sending_queue.storage and max_bytes are not available)`,
      );
    }
    if (config.dead_letter?.path)
      this.deadLetter = new DeadLetterDirectory(resolvePath(config.dead_letter.path), context.id);
    if (this.queueConfig.batch && !sender.builder)
      throw new Error(`${context.id}: this exporter cannot batch in its sending queue (sending_queue.batch)`);
  }

  async start(): Promise<void> {
    await this.sender.start?.();
    if (this.queueConfig.storage !== undefined) await this.openDiskQueue(this.queueConfig.storage);
    this.reportQueue();
    const consumers = this.queueConfig.enabled ? this.queueConfig.num_consumers : 0;
    for (let i = 0; i < consumers; i++) this.workers.push(this.runConsumer());
  }

  async consume(batch: LogBatch): Promise<void> {
    if (this.closing) throw new ShuttingDownError(this.context.id);
    const records = countRecords(batch);
    if (records === 0) return;
    if (!this.queueConfig.enabled) return this.exportNow(batch, records);
    // Refuse before encoding: a refused batch comes back, and would be encoded again.
    if (!this.hasRoom(records) && !(await this.room.wait(() => this.hasRoom(records)))) {
      const { queue_size, max_bytes } = this.queueConfig;
      const held =
        max_bytes > 0
          ? `${this.queuedRecords} log records, ${this.queuedBytes} bytes`
          : `${this.queuedRecords} of ${queue_size} log records`;
      throw new BackPressureError(`${this.context.id}: sending queue is full (${held})`);
    }
    if (this.closing) throw new ShuttingDownError(this.context.id);
    if (this.queueConfig.batch) return this.addToBatch(batch, records);
    return this.enqueue(this.sender.prepare(batch), records);
  }

  /** Queues a payload: in memory, or written to the disk queue before this resolves. */
  private async enqueue(payload: P, records: number): Promise<void> {
    const token = randomUUID();
    if (!this.disk) {
      const bytes = this.sender.codec?.byteLength(payload) ?? 0;
      this.reserve(records, bytes);
      this.push({ payload, records, bytes, token, stored: undefined });
      return;
    }
    const encoded = this.sender.codec!.encode(payload);
    // Counted before the write: batches arriving while it is under way see the queue as it will be.
    this.reserve(records, encoded.length);
    let stored: StoredRecord;
    try {
      stored = await this.disk.append(records, token, encoded);
    } catch (err) {
      if (!this.stopped) this.reserve(-records, -encoded.length);
      throw err;
    }
    if (this.stopped) return; // on disk; sent after the next start
    const cache = this.cachedBytes + encoded.length <= DISK_QUEUE_MEMORY_CACHE_BYTES;
    if (cache) this.cachedBytes += encoded.length;
    this.push({ payload: cache ? payload : undefined, records, bytes: encoded.length, token, stored });
  }

  /**
   * sending_queue.batch: the batch is encoded into the one being filled, which is queued once it
   * holds min_size records or flush_timeout after it was started; the caller is answered when it
   * is queued (on disk, with storage), or with the error that kept it out. A batch never goes
   * past max_size by adding to it: a larger request is queued on its own.
   */
  private addToBatch(batch: LogBatch, records: number): Promise<void> {
    const { min_size, max_size, flush_timeout } = this.queueConfig.batch!;
    if (this.open && max_size > 0 && this.open.records + records > max_size) this.flushBatch();
    const open = (this.open ??= {
      builder: this.sender.builder!(),
      records: 0,
      waiting: [],
      timer: setTimeout(() => this.flushBatch(), flush_timeout),
    });
    open.builder.add(batch);
    open.records += records;
    // Counted as queued from now: the queue's limits hold the batch being filled too.
    this.reserve(records, 0);
    const queued = new Promise<void>((resolve, reject) => open.waiting.push({ resolve, reject }));
    if (open.records >= min_size || this.draining) this.flushBatch();
    return queued;
  }

  private flushBatch(): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    clearTimeout(open.timer);
    if (open.records === 0) return;
    this.reserve(-open.records, 0);
    const queued = (async () => this.enqueue(open.builder.finish(), open.records))().then(
      () => {
        for (const w of open.waiting) w.resolve();
      },
      (err: unknown) => {
        for (const w of open.waiting) w.reject(err);
      },
    );
    this.flushing.add(queued);
    void queued.finally(() => this.flushing.delete(queued));
  }

  /** Room for `records` more; a batch larger than the whole queue is taken when the queue is empty. */
  private hasRoom(records: number): boolean {
    if (this.draining || this.closing || this.queuedRecords === 0) return true;
    const { queue_size, max_bytes } = this.queueConfig;
    return this.queuedRecords + records <= queue_size && (max_bytes === 0 || this.queuedBytes < max_bytes);
  }

  private reserve(records: number, bytes: number): void {
    this.queuedRecords += records;
    this.queuedBytes += bytes;
    this.reportQueue();
  }

  /** Hands a batch whose room was reserved to the consumers. */
  private push(item: QueueItem<P>): void {
    this.items.push(item);
    this.wakeups.shift()?.();
  }

  /**
   * sending_queue.enabled: false: the batch is exported in the caller's path, and accepted only
   * once it is (or was dead-lettered). At the shutdown deadline the caller is answered at once
   * with a refusal, even if an attempt is still under way.
   */
  private async exportNow(batch: LogBatch, records: number): Promise<void> {
    const payload = this.sender.prepare(batch);
    const item: QueueItem<P> = { payload, records, bytes: 0, token: randomUUID(), stored: undefined };
    const outcome = await new Promise<Outcome>((resolve) => {
      if (this.deadlinePassed) return resolve('deferred');
      const answer = (o: Outcome) => {
        this.atDeadline.delete(onDeadline);
        resolve(o);
      };
      const onDeadline = () => answer('deferred');
      this.atDeadline.add(onDeadline);
      void this.deliver(item, payload).then(answer);
    });
    if (outcome === 'deferred') throw new ShuttingDownError(this.context.id);
    if (outcome === 'refused')
      throw new BackPressureError(
        `${this.context.id}: the batch cannot be exported (${this.lastError})`,
        this.retryConfig.initial_interval,
      );
  }

  health(): ComponentHealth {
    const extra = this.sender.health?.() ?? {};
    // A queue that cannot write refuses every batch, yet degraded rather than down: down answers
    // 503, a liveness probe would restart the process, and that frees no disk space while it stops
    // the exports that do.
    const writeError = this.disk?.writeError;
    const status = this.consecutiveFailures > 0 || writeError !== undefined ? 'degraded' : 'ok';
    const h: ComponentHealth = { status, queue_size: this.queuedRecords, ...extra };
    if (this.disk) h.queue_bytes = this.queuedBytes;
    if (writeError !== undefined) h.queue_write_error = writeError;
    if (this.lastError && this.consecutiveFailures > 0) h.detail = this.lastError;
    else if (writeError !== undefined) h.detail = `the disk queue cannot write: ${writeError}`;
    return h;
  }

  /**
   * The service is shutting down: what the processors flush from now on is accepted whatever
   * the queue's limits, so it is exported or (with storage) persisted rather than dropped; and
   * retries end at the deadline, so the processors' final flush cannot outlast it.
   */
  prepareShutdown(deadline: number): void {
    this.draining = true;
    this.flushBatch();
    this.setDeadline(deadline);
    this.room.wake();
  }

  private setDeadline(deadline: number): void {
    if (deadline >= this.deadline) return;
    this.deadline = deadline;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(
      () => {
        this.deadlinePassed = true;
        for (const answer of [...this.atDeadline]) answer();
      },
      Math.max(0, deadline - Date.now()),
    );
    this.deadlineTimer.unref();
    this.deadlineSet.abort();
    this.deadlineSet = new AbortController();
  }

  /**
   * Stops taking batches and exports what is queued until the deadline. With a persistent queue,
   * what is left at the deadline (and what was in flight) stays on disk and is sent after the
   * next start; in memory it is lost, and counted.
   */
  async shutdown(deadline: number): Promise<void> {
    this.flushBatch();
    await waitUntilDeadline(Promise.all(this.flushing), deadline);
    this.closing = true;
    this.setDeadline(deadline);
    for (const wake of this.wakeups.splice(0)) wake();
    this.room.wake();
    await waitUntilDeadline(Promise.all(this.workers), deadline, 100);
    this.stopped = true;
    // Queued, and given up by the consumers in flight at the deadline (already counted as failed).
    const left = this.queuedRecords + this.deferredRecords;
    if (left > 0 && this.disk) {
      this.context.logger.info(
        { records: left, dir: this.disk.dir },
        'shutdown deadline reached; the log records not yet exported ' +
          'stay in the disk queue and are sent after the next start',
      );
    } else if (left > 0) {
      this.context.telemetry.failed(this.queuedRecords, 'shutdown');
      this.context.logger.error(
        { records: left },
        'shutdown deadline reached with log records still queued in memory; they were not exported',
      );
    }
    this.items.length = 0;
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    this.reportQueue();
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.adoptTimer);
    await this.disk?.close();
    await this.sender.stop?.();
  }

  private async openDiskQueue(storage: string): Promise<void> {
    const dir = join(resolvePath(storage), queueDirName(this.context.id, this.context.worker?.index ?? 0));
    const { logger, telemetry } = this.context;
    const { queue, replay } = await DiskQueue.open(this.diskQueueOptions(dir));
    this.disk = queue;
    for (const stored of replay.records) {
      const bytes = stored.length;
      this.items.push({ payload: undefined, records: stored.records, bytes, token: stored.token, stored });
      this.queuedRecords += stored.records;
      this.queuedBytes += bytes;
    }
    if (replay.damagedRegions > 0) {
      telemetry.queueDamaged(replay.damagedRegions);
      logger.error(
        {
          dir,
          damaged_regions: replay.damagedRegions,
          damaged_bytes: replay.damagedBytes,
          missing_batches: replay.missingSeqs,
        },
        'the disk queue had damaged records (torn writes or ' +
          'corruption); they were skipped and the intact records replay',
      );
    }
    if (replay.records.length > 0)
      logger.info({ dir, batches: replay.records.length, records: this.queuedRecords }, 'replaying the disk queue');
    this.warnOfOrphanQueues(resolvePath(storage));
    if ((this.context.worker?.index ?? 0) === 0) await this.adoptRetiredWorkerQueues(resolvePath(storage));
  }

  private diskQueueOptions(dir: string) {
    return {
      dir,
      fsync: this.queueConfig.fsync,
      fsyncIntervalMs: this.queueConfig.fsync_interval,
      segmentBytes: this.queueConfig.segment_size,
      logger: this.context.logger,
    };
  }

  /**
   * The queues of worker processes that no longer run (service.workers was lowered) are moved into
   * this one, the first worker's, batch by batch with their deduplication tokens: a crash half-way
   * leaves a batch in both queues, and ClickHouse stores the second copy's insert once. A queue
   * still locked by a live process (a worker of the previous run still draining) is tried again
   * until it is free.
   */
  private async adoptRetiredWorkerQueues(storage: string): Promise<void> {
    const count = this.context.worker?.count ?? 1;
    const left: string[] = [];
    for (const entry of readdirSync(storage, { withFileTypes: true })) {
      const index = entry.isDirectory() ? workerIndexOf(entry.name, this.context.id) : undefined;
      if (index === undefined || index < count) continue;
      const dir = join(storage, entry.name);
      try {
        await this.adoptQueue(dir);
      } catch (err) {
        left.push(dir);
        this.context.logger.warn(
          { dir, err: errorMessage(err) },
          'cannot take over the disk queue of a worker process that no longer runs yet; trying again in 10 s',
        );
      }
    }
    if (left.length > 0 && !this.closing) {
      this.adoptTimer = setTimeout(() => void this.adoptRetiredWorkerQueues(storage), 10_000);
      this.adoptTimer.unref();
    }
  }

  private async adoptQueue(dir: string): Promise<void> {
    const { queue: retired, replay } = await DiskQueue.open(this.diskQueueOptions(dir));
    let records = 0;
    try {
      for (const r of replay.records) {
        const payload = await retired.read(r);
        const stored = await this.disk!.append(r.records, r.token, payload);
        this.push({ payload: undefined, records: r.records, bytes: stored.length, token: r.token, stored });
        this.queuedRecords += r.records;
        this.queuedBytes += stored.length;
        retired.ack(r.seq);
        records += r.records;
      }
    } finally {
      await retired.close();
    }
    rmSync(dir, { recursive: true, force: true });
    this.reportQueue();
    if (records > 0)
      this.context.logger.info(
        { dir, batches: replay.records.length, records },
        'took over the disk queue of a worker process that no longer runs (service.workers was lowered)',
      );
  }

  /** A queue directory no configured exporter uses (an exporter renamed) holds records that are never sent. */
  private warnOfOrphanQueues(storage: string): void {
    const used = new Set((this.context.exporterIds ?? [this.context.id]).map(safeDirName));
    for (const entry of readdirSync(storage, { withFileTypes: true })) {
      if (!entry.isDirectory() || used.has(entry.name)) continue;
      // Another worker's queue, or (past service.workers) one the first worker takes over.
      if ((this.context.exporterIds ?? [this.context.id]).some((id) => workerIndexOf(entry.name, id) !== undefined))
        continue;
      const dir = join(storage, entry.name);
      let held: { batches: number; records: number };
      try {
        held = DiskQueue.inspect(dir, this.context.logger);
      } catch {
        continue;
      }
      if (held.records > 0) {
        this.context.logger.warn(
          { dir, batches: held.batches, records: held.records },
          `a disk queue directory that no configured exporter uses holds log records not yet exported; they ` +
            `will not be sent. Name the exporter ${entry.name} again (with _ for /), or remove the directory`,
        );
      }
    }
  }

  /** One consumer; if it fails on something unexpected, it is logged and another takes its place. */
  private async runConsumer(): Promise<void> {
    for (;;) {
      try {
        await this.work();
        return;
      } catch (err) {
        this.context.logger.error(
          { err: errorMessage(err) },
          'a sending queue consumer failed; starting another (a batch it ' +
            'held is sent again after a restart if the queue is on disk)',
        );
        if (this.closing) return;
      }
    }
  }

  private async work(): Promise<void> {
    for (;;) {
      if (this.closing && Date.now() >= this.deadline) return;
      const item = this.takeReady();
      if (!item) {
        if (this.closing && this.items.length === 0) return;
        await this.nextReady();
        continue;
      }
      const cached = item.payload !== undefined;
      const payload = item.payload ?? (await this.readStored(item));
      const outcome = payload === undefined ? 'given_up' : await this.deliver(item, payload);
      if (this.stopped) return;
      if (outcome === 'requeued') {
        this.items.push(item);
        this.wakeOne();
        continue;
      }
      if (cached) this.cachedBytes -= item.bytes;
      // Deferred at the deadline, a batch on disk stays there (unacknowledged) for the next start.
      if (outcome !== 'deferred' && item.stored) this.disk?.ack(item.stored.seq);
      if (outcome === 'deferred') {
        this.deferredRecords += item.records;
        if (!this.disk) this.context.telemetry.failed(item.records, 'shutdown');
      }
      this.queuedRecords -= item.records;
      this.queuedBytes -= item.bytes;
      this.reportQueue();
      this.room.wake();
    }
  }

  /** The first batch that may be tried now: batches put back after a failure wait for their back-off. */
  private takeReady(): QueueItem<P> | undefined {
    const now = Date.now();
    const i = this.items.findIndex((item) => item.retry === undefined || item.retry.readyAt <= now);
    return i < 0 ? undefined : this.items.splice(i, 1)[0];
  }

  /** Waits for a new batch, or until the earliest put-back batch may be tried again. */
  private async nextReady(): Promise<void> {
    let earliest = Infinity;
    for (const item of this.items) earliest = Math.min(earliest, item.retry?.readyAt ?? 0);
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => this.wakeups.push((wake = resolve)));
    if (earliest === Infinity) return woken;
    await Promise.race([woken, this.pause(earliest - Date.now())]);
    // Woken by the time, not by a batch: a later wake-up must reach a consumer that is waiting.
    const i = this.wakeups.indexOf(wake);
    if (i >= 0) this.wakeups.splice(i, 1);
  }

  private wakeOne(): void {
    this.wakeups.shift()?.();
  }

  /** A payload that is only on disk; undefined (counted, logged) if it no longer reads back. */
  private async readStored(item: QueueItem<P>): Promise<P | undefined> {
    try {
      return this.sender.codec!.decode(await this.disk!.read(item.stored!));
    } catch (err) {
      this.context.telemetry.queueDamaged(1);
      this.context.telemetry.failed(item.records, 'queue_damaged');
      this.context.logger.error(
        { err: errorMessage(err), records: item.records },
        'a queued batch cannot be read back from disk; skipping it',
      );
      return undefined;
    }
  }

  /** Exports one batch, retrying what is retryable; never throws. */
  private async deliver(item: QueueItem<P>, payload: P): Promise<Outcome> {
    const { logger, telemetry } = this.context;
    const started = item.retry?.started ?? Date.now();
    const backoff = item.retry?.backoff ?? new ExponentialBackoff(this.backoffSettings());
    for (let attempt = (item.retry?.attempts ?? 0) + 1; ; attempt++) {
      const t0 = performance.now();
      try {
        const outcome = await this.sender.attempt(payload, item.records, item.token, attempt);
        const rejected = outcome ? Math.min(outcome.rejected, item.records) : 0;
        telemetry.sent(item.records - rejected, (performance.now() - t0) / 1000);
        this.consecutiveFailures = 0;
        this.lastSuccessAt = Date.now();
        if (rejected === 0) return 'sent';
        if (!outcome?.deadLetter) {
          telemetry.failed(rejected, 'rejected');
          return 'sent';
        }
        this.lastError = outcome.deadLetter.error;
        const kept = await this.keepInDeadLetter(
          item,
          rejected,
          outcome.deadLetter.files,
          'permanent',
          attempt,
          started,
        );
        return kept === 'given_up' ? 'sent' : kept;
      } catch (err) {
        this.lastError = errorMessage(err);
        this.consecutiveFailures++;
        if (
          err instanceof PermanentExportError ||
          !(err instanceof RetryableExportError) ||
          !this.retryConfig.enabled
        ) {
          return this.giveUp(item, payload, 'permanent', attempt, started);
        }
        if (Date.now() >= this.deadline) return 'deferred';
        const elapsed = Date.now() - started;
        const limit = this.retryConfig.max_elapsed_time;
        if (limit > 0 && elapsed >= limit) return this.giveUp(item, payload, 'retries_exhausted', attempt, started);
        let wait = backoff.next();
        if (err.retryAfterMs !== undefined) wait = Math.max(wait, err.retryAfterMs);
        if (limit > 0) wait = Math.min(wait, Math.max(0, limit - elapsed));
        telemetry.retried();
        // Batches wait behind this one. It goes behind them when the sink took others since it
        // first failed, when the failure may be its own, and once after three attempts to see
        // whether the sink takes the others (it may be down for all): so no batch holds a
        // consumer for ever, and a sink that is down is not tried once per queued batch.
        const probe = attempt >= 3 && !item.retry?.probed;
        if (this.items.length > 0 && (this.lastSuccessAt > started || err.mayBeThisBatch || probe)) {
          const probed = probe || item.retry?.probed === true;
          item.retry = { attempts: attempt, started, backoff, readyAt: Date.now() + wait, probed };
          logger.warn(
            { err: this.lastError, records: item.records, attempt, retry_in_ms: Math.round(wait) },
            'export failed; retrying after the batches waiting behind it',
          );
          return 'requeued';
        }
        logger.warn(
          { err: this.lastError, records: item.records, attempt, retry_in_ms: Math.round(wait) },
          'export failed; retrying',
        );
        await this.pause(wait);
        if (Date.now() >= this.deadline) return 'deferred';
      }
    }
  }

  /** Waits ms, or until the shutdown deadline if that comes first (also if it is set meanwhile). */
  private async pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const left = Math.min(until, this.deadline) - Date.now();
      if (left <= 0) return;
      await sleep(left, undefined, { signal: this.deadlineSet.signal }).catch(() => undefined);
    }
  }

  /** A batch that will not be delivered goes to the dead-letter directory (or, without one, is dropped). */
  private giveUp(
    item: QueueItem<P>,
    payload: P,
    reason: DeadLetterEntry['reason'],
    attempts: number,
    started: number,
  ): Promise<Outcome> {
    const files = () =>
      this.sender.deadLetterFiles?.(payload, item.token) ??
      (this.sender.codec ? [{ suffix: '.bin', data: this.sender.codec.encode(payload) }] : []);
    return this.keepInDeadLetter(item, item.records, files, reason, attempts, started);
  }

  /**
   * Writes `records` of a batch (all of it, or the records the sink refused) to the dead-letter
   * directory, or without one drops them, counted. The batch leaves the queue only once written
   * there: while the directory cannot be written the batch is kept and the write retried with the
   * retry back-off, until the shutdown deadline (a disk queue keeps it for the next start).
   * Without a queue the caller is refused instead.
   */
  private async keepInDeadLetter(
    item: QueueItem<P>,
    records: number,
    files: DeadLetterFile[] | (() => DeadLetterFile[]),
    reason: DeadLetterEntry['reason'],
    attempts: number,
    started: number,
  ): Promise<Outcome> {
    const { logger, telemetry } = this.context;
    const part = records < item.records;
    const context = { err: this.lastError, records, batch_records: item.records, attempts, token: item.token };
    const what = part
      ? 'the sink refused some records of a batch'
      : reason === 'permanent'
        ? 'export failed permanently'
        : 'export retries exhausted';
    if (!this.deadLetter) {
      telemetry.failed(records, reason);
      logger.error(context, `${what}; dropping ${part ? 'them' : 'the batch'} (no dead_letter directory configured)`);
      return 'given_up';
    }
    const entry: DeadLetterEntry = {
      exporter: this.context.id,
      reason,
      error: this.lastError,
      records,
      token: item.token,
      attempts,
      first_attempt_at: new Date(started).toISOString(),
    };
    // One writer and nobody to spread out: the retry back-off's pace, without its jitter.
    const backoff = new ExponentialBackoff({ ...this.backoffSettings(), randomizationFactor: 0 });
    for (let tries = 1; ; tries++) {
      try {
        const file = this.deadLetter.write(entry, typeof files === 'function' ? files() : files);
        telemetry.failed(records, reason);
        telemetry.deadLettered(records, reason);
        logger.error(
          { ...context, file },
          `${what}; ${part ? 'they were' : 'the batch was'} written to the dead-letter directory`,
        );
        return 'given_up';
      } catch (err) {
        this.lastError = `${entry.error}; and the dead-letter directory cannot be written: ${errorMessage(err)}`;
        this.consecutiveFailures++;
        if (!this.queueConfig.enabled) {
          logger.error(
            { ...context, dead_letter_error: errorMessage(err) },
            `${what} and the dead-letter directory cannot be written; refusing the batch`,
          );
          return 'refused';
        }
        if (Date.now() >= this.deadline) {
          logger.error(
            { ...context, dead_letter_error: errorMessage(err) },
            this.disk
              ? 'the dead-letter directory cannot be written at the ' +
                  'shutdown deadline; the batch stays in the disk queue'
              : 'the dead-letter directory cannot be written at the shutdown deadline; the batch is lost',
          );
          return 'deferred';
        }
        if (tries === 1)
          logger.error(
            { ...context, dead_letter_error: errorMessage(err) },
            `${what} and the dead-letter directory cannot be written; keeping the batch and trying again`,
          );
        await this.pause(backoff.next());
      }
    }
  }

  private backoffSettings(): BackoffSettings {
    const r = this.retryConfig;
    return {
      initialMs: r.initial_interval,
      maxMs: r.max_interval,
      multiplier: r.multiplier,
      randomizationFactor: r.randomization_factor,
    };
  }

  private reportQueue(): void {
    this.context.telemetry.queue(this.queuedRecords, this.queueConfig.queue_size, this.queuedBytes);
  }
}

/** The queue directory of an exporter in worker process `index`: the first worker's is the one of a single process. */
export function queueDirName(exporterId: string, index: number): string {
  // `~` is never in a safeDirName, so no exporter's own directory looks like a worker's.
  return index === 0 ? safeDirName(exporterId) : `${safeDirName(exporterId)}~worker-${index}`;
}

function workerIndexOf(dirName: string, exporterId: string): number | undefined {
  const prefix = `${safeDirName(exporterId)}~worker-`;
  if (!dirName.startsWith(prefix)) return undefined;
  const index = Number(dirName.slice(prefix.length));
  return Number.isInteger(index) && index > 0 ? index : undefined;
}
