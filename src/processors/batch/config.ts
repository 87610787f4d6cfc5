import { z } from 'zod';
import { duration, nonNegativeInt, positiveInt, section } from '../../config/types.js';

export const batchConfigSchema = section({
  /** Send once this many records are waiting. */
  send_batch_size: positiveInt(8192),
  /** Never send more than this many records at once; 0 means no limit. */
  send_batch_max_size: nonNegativeInt(0),
  /** Send what is waiting after this long, even if fewer than send_batch_size. */
  timeout: duration('200ms'),
  /**
   * Records held while the next stage is refusing them; past it the processor refuses new data
   * (back-pressure to the receivers). 0 means 10 × send_batch_size.
   */
  max_pending_records: nonNegativeInt(0),
  /**
   * Answer a request only once the batch holding it was accepted by the next stage (with a
   * persistent sending queue: written to disk), and pass the next stage's refusal back to it.
   * Nothing acknowledged is then held only in memory.
   */
  wait_for_flush: z.boolean().default(false),
}).refine((c) => c.send_batch_max_size === 0 || c.send_batch_max_size >= c.send_batch_size, {
  message: 'send_batch_max_size must be 0 or at least send_batch_size',
  path: ['send_batch_max_size'],
});

export type BatchConfig = z.output<typeof batchConfigSchema>;
