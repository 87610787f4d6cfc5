import type { LogBatch } from './model.js';

/**
 * The one contract every stage implements. The promise resolves once the stage has accepted the
 * batch (into memory or a persistent queue); it rejects with a BackPressureError when the stage
 * refuses it, and that refusal travels back to the receiver, which answers its client with the
 * protocol's back-pressure signal. A stage that resolved owns the batch: callers must not touch it
 * afterwards.
 */
export interface LogsConsumer {
  consume(batch: LogBatch): Promise<void>;
}
