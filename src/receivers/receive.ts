import type { ComponentTelemetry } from '../telemetry/metrics.js';
import type { LogsConsumer } from '../pipeline/consumer.js';
import type { LogBatch } from '../pipeline/model.js';
import { consumeWaitingForRoom } from '../pipeline/room-wait.js';

/** What one request brought, once decoded: the records kept, and the counts of what was not. */
export interface ReceivedRecords {
  /** Taken out (left empty) by passToPipeline once the pipeline has it. */
  batch: LogBatch;
  records: number;
  /** Records left out of the batch because they are invalid (answered as a partial success). */
  rejected: number;
  /** Timestamps beyond int64 nanoseconds, read as unset. */
  unrepresentableTimes: number;
}

/**
 * The step every request-answering receiver takes after decoding: count what the request brought,
 * hand the records to the pipeline (waiting up to waitForRoomMs for room), and count whether the
 * pipeline accepted them. It rejects with the pipeline's error, which the receiver turns into its
 * protocol's refusal.
 *
 * The batch is taken out of `received` as it is handed over, so the waiting request keeps none of
 * its records reachable (see LogsConsumer): pass the decoder's result itself, not a copy of it.
 */
export async function passToPipeline(
  telemetry: ComponentTelemetry,
  transport: string,
  next: LogsConsumer,
  waitForRoomMs: number,
  received: ReceivedRecords,
): Promise<void> {
  if (received.rejected > 0) telemetry.refused(received.rejected, transport, 'invalid');
  if (received.unrepresentableTimes > 0) telemetry.unrepresentableTimes(received.unrepresentableTimes, transport);
  if (received.records === 0) return;
  try {
    await consumeWaitingForRoom(waitForRoomMs, () => next.consume(takeBatch(received)));
  } catch (err) {
    telemetry.refused(received.records, transport, 'back_pressure');
    throw err;
  }
  telemetry.accepted(received.records, transport);
}

function takeBatch(received: ReceivedRecords): LogBatch {
  const { batch } = received;
  received.batch = { resourceLogs: [] };
  return batch;
}
