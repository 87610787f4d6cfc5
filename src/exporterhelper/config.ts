import { z } from 'zod';
import { byteSize, duration, nonNegativeInt, positiveInt, section } from '../config/types.js';

/**
 * `sending_queue.batch`, as the OTel Collector's exporterhelper spells it (sizes count log
 * records): batches are encoded into one payload as they arrive, which is queued once it holds
 * min_size records, or flush_timeout after its first; a caller is answered once its records are
 * queued. It takes the place of the batch processor, and its records do not wait as objects (D86).
 */
export const exporterBatchSchema = z
  .preprocess(
    // `batch:` with nothing under it turns batching on with the defaults, as in the Collector.
    (v) => (v === null ? {} : v),
    z.strictObject({
      flush_timeout: duration('200ms'),
      min_size: positiveInt(8192),
      /** A payload never grows past this many records by adding a batch to it; 0: no limit. */
      max_size: nonNegativeInt(0),
    }),
  )
  .refine((c) => c.flush_timeout > 0, { message: 'must be greater than 0', path: ['flush_timeout'] })
  .refine((c) => c.max_size === 0 || c.max_size >= c.min_size, {
    message: 'must be 0 or at least min_size',
    path: ['max_size'],
  });

/**
 * `sending_queue`, as the OTel Collector's exporterhelper spells it; sizes count log records.
 * With `storage` the queue lives on disk (one directory per exporter instance under it) and
 * survives restarts and crashes.
 */
export const sendingQueueSchema = section({
  enabled: z.boolean().default(true),
  num_consumers: positiveInt(2),
  queue_size: positiveInt(100_000),
  /** Bytes of queued payloads at most (in memory, or on disk with storage); 0: no byte limit. */
  max_bytes: byteSize('0'),
  /** A directory for a persistent queue; unset keeps the queue in memory. */
  storage: z.string().min(1, 'must be a directory path').optional(),
  fsync: z.enum(['always', 'interval', 'never']).default('interval'),
  fsync_interval: duration('1s'),
  segment_size: byteSize('64MiB'),
  batch: exporterBatchSchema.optional(),
})
  .refine((c) => c.enabled || c.storage === undefined, {
    message: 'a persistent queue needs enabled: true',
    path: ['storage'],
  })
  .refine((c) => c.fsync !== 'interval' || c.fsync_interval > 0, {
    message: 'must be greater than 0 with fsync: interval',
    path: ['fsync_interval'],
  })
  .refine((c) => c.segment_size >= 4096, { message: 'must be at least 4096 bytes', path: ['segment_size'] })
  .refine((c) => c.enabled || c.batch === undefined, {
    message: 'batching in the sending queue needs enabled: true',
    path: ['batch'],
  })
  // A batch is counted in the queue while it fills, so a larger one would wait for its timeout.
  .refine((c) => c.batch === undefined || c.batch.min_size <= c.queue_size, {
    message: 'must be at most sending_queue.queue_size',
    path: ['batch', 'min_size'],
  });

/** `retry_on_failure`, as the OTel Collector's exporterhelper spells it. */
export const retryOnFailureSchema = section({
  enabled: z.boolean().default(true),
  initial_interval: duration('1s'),
  max_interval: duration('30s'),
  /** 0 retries for ever. */
  max_elapsed_time: duration('5m'),
  multiplier: z.number().min(1, 'must be at least 1').default(1.5),
  randomization_factor: z.number().min(0).max(1, 'must be between 0 and 1').default(0.5),
});

export type SendingQueueConfig = z.output<typeof sendingQueueSchema>;
export type RetryOnFailureConfig = z.output<typeof retryOnFailureSchema>;

/** `dead_letter`: where batches the exporter gives up on are kept, with the reason. */
export const deadLetterSchema = section({
  /** A directory; empty turns dead-lettering off (given-up batches are then dropped and counted). */
  path: z.string().default(''),
});

export type DeadLetterConfig = z.output<typeof deadLetterSchema>;

/** The settings every queued exporter has, spread into its config schema under the OTel Collector's names. */
export const exporterHelperSettings = {
  sending_queue: sendingQueueSchema,
  retry_on_failure: retryOnFailureSchema,
  dead_letter: deadLetterSchema,
};

export interface ExporterHelperConfig {
  sending_queue: SendingQueueConfig;
  retry_on_failure: RetryOnFailureConfig;
  dead_letter?: DeadLetterConfig;
}
