import t from 'tap';
import type { LogsConsumer } from '../../../src/pipeline/consumer.js';
import { RejectedBatchError } from '../../../src/pipeline/errors.js';
import { waitFor } from '../../support/daemon.js';
import { batchOf, processorHarness, recordsOf } from '../../support/processors.js';

t.test('batch processor: a batch the next stage rejects as invalid is dropped and counted, not retried for ever', async (t) => {
  const sent: string[] = [];
  const next: LogsConsumer = {
    consume: async (b) => {
      const bodies = recordsOf(b).map((r) => r.body as string);
      sent.push(bodies.join(','));
      if (bodies.includes('bad')) throw new RejectedBatchError('filter: condition failed');
    },
  };
  const h = await processorHarness('batch', 'send_batch_size: 2\ntimeout: 10ms', {}, next);
  await h.run(batchOf({ records: [{ body: 'bad' }, { body: 'x' }] }));
  await h.run(batchOf({ records: [{ body: 'good' }, { body: 'y' }] }));
  t.ok(await waitFor(async () => sent.includes('good,y'), 20_000, 10), 'the batch behind the rejected one is delivered');
  await h.processor.shutdown(Date.now() + 5000);
  t.same(sent, ['bad,x', 'good,y'], 'the rejected batch was sent once');
  t.equal(h.stats().rejected, 2, 'its records are counted as rejected');
});
