import type { LogsConsumer } from './consumer.js';
import { cloneBatch, type LogBatch } from './model.js';

/**
 * Hands a batch to several consumers (a receiver feeding several pipelines, a pipeline feeding
 * several exporters). Each consumer after the first gets its own copy, since consumers may change
 * what they own. Each has its own queue, so a slow one does not hold back the others; the batch
 * counts as accepted only when all accepted it.
 */
export function fanOut(consumers: LogsConsumer[]): LogsConsumer {
  if (consumers.length === 1) return consumers[0]!;
  return {
    consume(batch: LogBatch): Promise<void> {
      const copies = consumers.map((_, i) => (i === consumers.length - 1 ? batch : cloneBatch(batch)));
      return Promise.allSettled(consumers.map((c, i) => c.consume(copies[i]!))).then(throwFirstFailure);
    },
  };
}

function throwFirstFailure(results: PromiseSettledResult<void>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
