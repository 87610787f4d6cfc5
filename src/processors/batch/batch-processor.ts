import { setTimeout as sleep } from 'node:timers/promises';
import { ExponentialBackoff } from '../../internal/backoff.js';
import type { ComponentContext, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { BackPressureError, ShuttingDownError, errorMessage, isPermanentError } from '../../pipeline/errors.js';
import { countRecords, type LogBatch } from '../../pipeline/model.js';
import { RoomWaiters } from '../../pipeline/room-wait.js';
import { BatchBuffer } from './batch-buffer.js';
import type { BatchConfig } from './config.js';
import { BatchMetrics } from './metrics.js';

/**
 * How soon a batch the next stage refused is offered again: soon, since a full queue frees room
 * as fast as the sink takes batches, and never slower than once a second. No jitter: one sender.
 */
const REFUSED_SEND_BACKOFF = { initialMs: 50, maxMs: 1000, multiplier: 2, randomizationFactor: 0 };

/**
 * Groups records into batches by size or time, as the OTel Collector's batch processor does, with
 * one difference that matters for not losing data: accepted records stay here until the next stage
 * accepts them (a refused send is retried; only a batch rejected as permanently invalid is
 * dropped, counted and logged), and when too many are waiting the processor refuses new data
 * instead of growing without bound.
 */
export class BatchProcessor implements Processor {
  private readonly metrics: BatchMetrics;
  private readonly buffer = new BatchBuffer();
  private readonly maxSend: number;
  private readonly maxPending: number;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closing = false;
  private deadline = Infinity;
  /** Requests waiting for room while too many records wait for the exporters. */
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
      throw new BackPressureError(`${this.context.id}: ${this.buffer.size} log records are waiting for the exporters`);
    }
    if (this.closing) throw new ShuttingDownError(this.context.id);
    this.buffer.add(batch, records);
    if (this.buffer.size >= this.config.send_batch_size) this.send('size');
    else if (!this.timer) this.timer = setTimeout(() => this.send('timeout'), this.config.timeout);
  }

  private hasRoom(records: number): boolean {
    return this.closing || this.buffer.size === 0 || this.buffer.size + records <= this.maxPending;
  }

  /** Sends everything waiting before returning, so nothing accepted is left behind. */
  async shutdown(deadline: number): Promise<void> {
    this.closing = true;
    this.room.wake();
    this.deadline = deadline;
    while (this.buffer.size > 0 || this.sending) await this.send('shutdown');
  }

  private send(trigger: 'size' | 'timeout' | 'shutdown'): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sending ??= this.sendLoop(trigger).finally(() => {
      this.sending = undefined;
      if (this.closing || this.buffer.size === 0) return;
      if (this.buffer.size >= this.config.send_batch_size) void this.send('size');
      else this.timer ??= setTimeout(() => this.send('timeout'), this.config.timeout);
    });
    return this.sending;
  }

  private async sendLoop(trigger: 'size' | 'timeout' | 'shutdown'): Promise<void> {
    const backoff = new ExponentialBackoff(REFUSED_SEND_BACKOFF);
    while (this.buffer.size > 0) {
      const full = this.buffer.size >= this.config.send_batch_size;
      if (!full && trigger === 'size' && !this.closing) return;
      const { batch, records } = this.buffer.take(Math.min(this.maxSend, this.buffer.size));
      try {
        await this.next.consume(batch);
        this.metrics.batchSent(records, this.closing ? 'shutdown' : full ? 'size' : trigger);
        this.room.wake();
        backoff.reset();
      } catch (err) {
        if (isPermanentError(err)) {
          // Held for a retry it would be refused again, for ever, with everything behind it waiting.
          this.context.telemetry.count('rejected', records);
          this.context.logger.error(
            { err: errorMessage(err), records },
            'the next stage rejected a batch as invalid; it cannot be retried and is dropped',
          );
          this.room.wake();
          continue;
        }
        if (Date.now() >= this.deadline) {
          this.context.telemetry.count('dropped', records);
          this.context.logger.error(
            { err: errorMessage(err), records },
            'shutdown deadline reached; the next stage still refuses these records',
          );
          continue;
        }
        this.buffer.unshift(batch, records);
        const next = backoff.next();
        const wait = err instanceof BackPressureError ? Math.min(err.retryAfterMs, next) : next;
        this.context.logger.debug(
          { err: errorMessage(err), records, retry_in_ms: wait },
          'next stage refused a batch; holding it',
        );
        await sleep(Math.min(wait, Math.max(0, this.deadline - Date.now())));
      }
      if (trigger !== 'shutdown' && !this.closing && this.buffer.size < this.config.send_batch_size) return;
    }
  }
}
