/**
 * Run under `prlimit --fsize=N` by test/exporterhelper/disk-queue.test.ts: the kernel refuses writes past N bytes
 * (EFBIG, a short write first), a real failed write as a full disk gives one. Appends a small
 * record, one too large to fit, then small ones again, acknowledging every record the queue
 * took, and prints what happened as JSON.
 */
import { pino } from 'pino';
import { DiskQueue } from '../../src/exporterhelper/disk-queue.js';

// Past the limit the kernel also sends SIGXFSZ; Node ignores it, unless its parent (tap) left it at the default.
process.on('SIGXFSZ', () => undefined);
const dir = process.argv[2]!;
const { queue } = await DiskQueue.open({ dir, fsync: 'never', fsyncIntervalMs: 1000, segmentBytes: 1 << 20, logger: pino({ level: 'silent' }) });
const result = { stored: [] as number[], refused: [] as string[] };
for (const size of [100, 20_000, 100, 100, 100]) {
  try {
    const r = await queue.append(1, `size-${size}`, Buffer.alloc(size, 7));
    result.stored.push(r.seq);
    queue.ack(r.seq);
  } catch (err) {
    result.refused.push(`${(err as Error).name}: ${(err as Error).message}`);
  }
}
await queue.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
