import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { EncodedMessages, MatchResult, SnapshotData } from './matcher.js';
import type { MatchTask, MatchTaskResult } from './match-worker.js';

/**
 * Worker threads a pool gets by default: one fewer than the cores (each of `processes` pipeline
 * workers having its share of them), since the thread that calls the engine matches a share of
 * each pooled batch itself and builds every assignment.
 */
export function defaultPoolSize(processes = 1): number {
  return Math.max(1, Math.floor(availableParallelism() / processes) - 1);
}

/**
 * Worker threads that match batches against the current template snapshot. A batch's bytes are
 * transferred to a worker and back with the results, never copied. The snapshot lives in shared
 * memory; a worker recompiles it when a task names a newer version than the one it holds.
 */
export class MatcherPool {
  private readonly piscina: Piscina;
  private snapshot = new SharedArrayBuffer(0);
  private snapshotLength = 0;
  private version = -1;

  constructor(readonly threads = defaultPoolSize()) {
    this.piscina = new Piscina({
      filename: new URL('./match-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      // Each worker takes one task at a time: batches are split into one chunk per worker.
      concurrentTasksPerWorker: 1,
    });
  }

  /** Pool busy share since start, 0 to 1. */
  get utilization(): number {
    return this.piscina.utilization;
  }

  publish(data: SnapshotData): void {
    const bytes = Buffer.from(JSON.stringify(data), 'utf8');
    const shared = new SharedArrayBuffer(bytes.length);
    bytes.copy(Buffer.from(shared));
    this.snapshot = shared;
    this.snapshotLength = bytes.length;
    this.version = data.version;
  }

  /** Matches messages of one set; the messages' buffer comes back in the result. */
  async match(set: string, messages: EncodedMessages): Promise<{ result: MatchResult; messages: EncodedMessages }> {
    const buffer = messages.buffer.buffer as ArrayBuffer;
    // Read before the transfer detaches the view.
    const { byteOffset, byteLength } = messages.buffer;
    const task: MatchTask = {
      version: this.version,
      snapshot: this.snapshot,
      snapshotLength: this.snapshotLength,
      set,
      buffer,
      offsets: messages.offsets,
    };
    const out = (await this.piscina.run(task, {
      transferList: [buffer, messages.offsets.buffer as ArrayBuffer],
    })) as MatchTaskResult;
    const view = Buffer.from(out.buffer, byteOffset, byteLength);
    return {
      result: {
        version: out.version,
        templates: out.templates,
        spanIndex: out.spanIndex,
        spans: out.spans,
        shapes: out.shapes,
      },
      messages: { buffer: view, offsets: out.offsets },
    };
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
