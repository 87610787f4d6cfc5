import type { LogBatch } from './model.js';

/**
 * The one contract every stage implements. The promise resolves once the stage has accepted the
 * batch (into memory or a persistent queue); it rejects with a BackPressureError when the stage
 * refuses it, and that refusal travels back to the receiver, which answers its client with the
 * protocol's back-pressure signal. A stage that resolved owns the batch: callers must not touch it
 * afterwards.
 *
 * A caller waiting for the promise keeps nothing of the batch reachable (it returns the promise,
 * or has handed the batch over, rather than awaiting with it in scope): the stage may hold the
 * request for long (sending_queue.batch answers it when its insert is queued, up to flush_timeout)
 * after it has encoded the records, and records kept alive by waiting callers filled V8's old
 * generation — a third of the server path's RSS and a sixth of its CPU (D87).
 */
export interface LogsConsumer {
  consume(batch: LogBatch): Promise<void>;
}
