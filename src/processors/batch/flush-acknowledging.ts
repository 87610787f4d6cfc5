import { waitUntilDeadline } from '../../internal/deadline.js';
import type { ComponentContext, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { BackPressureError, ShuttingDownError } from '../../pipeline/errors.js';
import { countRecords, type LogBatch } from '../../pipeline/model.js';
import { RoomWaiters } from '../../pipeline/room-wait.js';
import type { BatchConfig } from './config.js';
import { BatchMetrics } from './metrics.js';

interface Waiting {
  batch: LogBatch;
  records: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The batch processor with `wait_for_flush: true`: requests are grouped as usual, but each is
 * answered only when the batch holding it has been accepted by the next stage, and a refusal
 * (a full queue) goes back to the requests of that batch, whose clients send them again. So an
 * acknowledged record is never only in this processor's memory: with a persistent sending queue
 * behind it, acknowledged means on disk. Requests are not split: a batch ends at a request
 * boundary, so send_batch_max_size is exceeded only by a single larger request.
 */
export class FlushAcknowledgingBatchProcessor implements Processor {
  private readonly metrics: BatchMetrics;
  private waiting: Waiting[] = [];
  private waitingRecords = 0;
  private readonly maxSend: number;
  private readonly maxPending: number;
  private timer: NodeJS.Timeout | undefined;
  /** Batches handed to the next stage and not yet answered, with the requests they hold. */
  private readonly sends = new Map<Promise<void>, Waiting[]>();
  private closing = false;
  /** Requests waiting for room while too many records wait to be flushed. */
  private readonly room = new RoomWaiters();

  constructor(
    private readonly config: BatchConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.metrics = new BatchMetrics(context.telemetry);
    this.maxSend = config.send_batch_max_size || Infinity;
    this.maxPending = config.max_pending_records || config.send_batch_size * 10;
  }

  async start(): Promise<void> {}

  async consume(batch: LogBatch): Promise<void> {
    if (this.closing) throw new ShuttingDownError(this.context.id);
    const records = countRecords(batch);
    if (records === 0) return;
    if (!this.hasRoom(records) && !(await this.room.wait(() => this.hasRoom(records)))) {
      throw new BackPressureError(`${this.context.id}: ${this.waitingRecords} log records are waiting to be flushed`);
    }
    if (this.closing) throw new ShuttingDownError(this.context.id);
    const accepted = new Promise<void>((resolve, reject) => this.waiting.push({ batch, records, resolve, reject }));
    this.waitingRecords += records;
    if (this.waitingRecords >= this.config.send_batch_size) this.flush('size');
    else this.timer ??= setTimeout(() => this.flush('timeout'), this.config.timeout);
    return accepted;
  }

  private hasRoom(records: number): boolean {
    return this.closing || this.waitingRecords === 0 || this.waitingRecords + records <= this.maxPending;
  }

  /**
   * Sends what is waiting and waits for the answers until the deadline; requests whose batch is
   * still unanswered then are refused (their clients send them again), not left hanging.
   */
  async shutdown(deadline: number): Promise<void> {
    this.closing = true;
    this.room.wake();
    while (this.waiting.length > 0) this.flush('shutdown');
    await waitUntilDeadline(Promise.all(this.sends.keys()), deadline);
    if (this.sends.size === 0) return;
    const unanswered = [...this.sends.values()].flat();
    this.sends.clear();
    const refusal = new ShuttingDownError(this.context.id);
    for (const w of unanswered) w.reject(refusal);
    this.context.logger.warn(
      { requests: unanswered.length, records: unanswered.reduce((n, w) => n + w.records, 0) },
      'shutdown deadline reached before the next stage accepted these requests; they were refused',
    );
  }

  /** Sends full batches (or, on timeout and shutdown, what is waiting) without waiting for earlier sends. */
  private flush(trigger: 'size' | 'timeout' | 'shutdown'): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.waiting.length > 0 && (trigger !== 'size' || this.waitingRecords >= this.config.send_batch_size)) {
      const group: Waiting[] = [];
      let records = 0;
      while (this.waiting.length > 0 && (group.length === 0 || records + this.waiting[0]!.records <= this.maxSend)) {
        const w = this.waiting.shift()!;
        group.push(w);
        records += w.records;
      }
      this.waitingRecords -= records;
      this.send(group, records, trigger);
      this.room.wake();
      if (trigger === 'size' && records < this.config.send_batch_size) break;
    }
    if (this.waiting.length > 0) this.timer = setTimeout(() => this.flush('timeout'), this.config.timeout);
  }

  private send(group: Waiting[], records: number, trigger: 'size' | 'timeout' | 'shutdown'): void {
    const batch: LogBatch = {
      resourceLogs: group.length === 1 ? group[0]!.batch.resourceLogs : group.flatMap((w) => w.batch.resourceLogs),
    };
    const sent = this.next.consume(batch).then(
      () => {
        this.metrics.batchSent(records, trigger);
        for (const w of group) w.resolve();
      },
      (err: unknown) => {
        for (const w of group) w.reject(err);
      },
    );
    this.sends.set(sent, group);
    void sent.finally(() => this.sends.delete(sent));
  }
}
