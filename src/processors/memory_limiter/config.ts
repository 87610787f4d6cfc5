import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { z } from 'zod';
import { duration, nonNegativeInt, section } from '../../config/types.js';

/** The OTel Collector's memory_limiter settings; limits are on the process's resident memory. */
export const memoryLimiterConfigSchema = section({
  check_interval: duration('1s'),
  /** Hard limit in MiB; the soft limit is limit_mib - spike_limit_mib. */
  limit_mib: nonNegativeInt(0),
  /** Headroom for growth between checks; default 20 % of the limit. */
  spike_limit_mib: nonNegativeInt(0),
  /** The hard limit as a share of the memory available (the container's limit, else the machine's). */
  limit_percentage: z.number().min(0).max(100, 'must be between 0 and 100').default(0),
  spike_limit_percentage: z.number().min(0).max(100, 'must be between 0 and 100').default(0),
  /** Forced garbage collections at most this often while above the soft limit (0: at every check). */
  min_gc_interval_when_soft_limited: duration('10s'),
  /** The same above the hard limit. */
  min_gc_interval_when_hard_limited: duration('0s'),
})
  .refine((c) => c.check_interval > 0, { message: 'must be greater than 0', path: ['check_interval'] })
  .refine((c) => c.limit_mib > 0 !== c.limit_percentage > 0, {
    message: 'set exactly one of limit_mib and limit_percentage',
    path: ['limit_mib'],
  })
  .refine((c) => c.limit_mib === 0 || c.spike_limit_mib < c.limit_mib, {
    message: 'must be less than limit_mib',
    path: ['spike_limit_mib'],
  })
  .refine((c) => c.limit_percentage === 0 || c.spike_limit_percentage < c.limit_percentage, {
    message: 'must be less than limit_percentage',
    path: ['spike_limit_percentage'],
  })
  .refine((c) => c.limit_mib > 0 || c.spike_limit_mib === 0, {
    message: 'use spike_limit_percentage with limit_percentage',
    path: ['spike_limit_mib'],
  });

export type MemoryLimiterConfig = z.output<typeof memoryLimiterConfigSchema>;

export const MIB = 1024 * 1024;

/** The memory this process may use: a cgroup (container) limit if there is one, else the machine's. */
export function availableMemoryBytes(): number {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const limit = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(limit) && limit > 0 && limit < totalmem()) return limit;
    } catch {
      // No such cgroup file here.
    }
  }
  return totalmem();
}

/** The hard and soft limits, in bytes, of a validated config. */
export function memoryLimits(config: MemoryLimiterConfig): { hard: number; soft: number } {
  if (config.limit_mib > 0) {
    const hard = config.limit_mib * MIB;
    const spike = config.spike_limit_mib > 0 ? config.spike_limit_mib * MIB : hard / 5;
    return { hard, soft: hard - spike };
  }
  const available = availableMemoryBytes();
  const hard = (available * config.limit_percentage) / 100;
  const spike = config.spike_limit_percentage > 0 ? (available * config.spike_limit_percentage) / 100 : hard / 5;
  return { hard, soft: hard - spike };
}
