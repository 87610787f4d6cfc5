import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits for `work` until the deadline (epoch ms), plus `graceMs`; resolves either way, and leaves
 * no timer behind once the work is done. Shutdowns use it: whatever is still running at the
 * deadline is then cut by the caller.
 */
export async function waitUntilDeadline(work: Promise<unknown>, deadline: number, graceMs = 0): Promise<void> {
  const timer = new AbortController();
  await Promise.race([
    work,
    sleep(Math.max(0, deadline - Date.now()) + graceMs, undefined, { signal: timer.signal }).catch(() => undefined),
  ]);
  timer.abort();
}
