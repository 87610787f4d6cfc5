import { z } from 'zod';
import { byteSize, duration, positiveInt, section } from '../config/types.js';

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
})
  .refine((c) => c.enabled || c.storage === undefined, {
    message: 'a persistent queue needs enabled: true',
    path: ['storage'],
  })
  .refine((c) => c.fsync !== 'interval' || c.fsync_interval > 0, {
    message: 'must be greater than 0 with fsync: interval',
    path: ['fsync_interval'],
  })
  .refine((c) => c.segment_size >= 4096, { message: 'must be at least 4096 bytes', path: ['segment_size'] });

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
