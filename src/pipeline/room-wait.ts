import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * How long the request being consumed may still wait for room. Receivers set it around their
 * consume call; stages that refuse for want of room (a full sending queue, a batch processor's
 * full buffer, the memory limiter) wait until then before refusing. A short overload so becomes
 * latency rather than refusals, which matters for clients that never retry a refusal (the OTel
 * JS SDK's gRPC exporter). AsyncLocalStorage carries it through every stage without a parameter
 * on the consumer contract; timers created while consuming (a batch's flush) inherit it.
 */
const waitUntil = new AsyncLocalStorage<number>();

/** Runs `consume` with stages allowed to wait up to `ms` from now for room; 0 refuses at once. */
export function consumeWaitingForRoom<T>(ms: number, consume: () => Promise<T>): Promise<T> {
  return ms > 0 ? waitUntil.run(Date.now() + ms, consume) : consume();
}

/** Callers waiting for room in one stage, woken (all of them, to check again) when room may have been made. */
export class RoomWaiters {
  private waiting: Array<() => void> = [];

  get size(): number {
    return this.waiting.length;
  }

  /** Resolves true once `hasRoom()` holds, false if the request's time to wait ran out first. */
  async wait(hasRoom: () => boolean): Promise<boolean> {
    const deadline = waitUntil.getStore() ?? 0;
    while (!hasRoom()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          const i = this.waiting.indexOf(done);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiting.push(done);
      });
    }
    return true;
  }

  wake(): void {
    for (const done of this.waiting.slice()) done();
  }
}
