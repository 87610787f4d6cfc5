import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import t from 'tap';
import type { ComponentContext } from '../../src/pipeline/component.js';
import { PermanentExportError, RetryableExportError } from '../../src/pipeline/errors.js';
import { deadLetterSchema, retryOnFailureSchema, sendingQueueSchema } from '../../src/exporterhelper/config.js';
import { QueuedExporter, bytesCodec, type ExportSender } from '../../src/exporterhelper/queued-exporter.js';
import { newLogRecord, type LogBatch } from '../../src/pipeline/model.js';
import { FlushAcknowledgingBatchProcessor } from '../../src/processors/batch/flush-acknowledging.js';
import { batchConfigSchema } from '../../src/processors/batch/config.js';
import { Telemetry } from '../../src/telemetry/metrics.js';
import { tempDir, waitFor } from '../support/daemon.js';

/*
 * The sending queue with a scripted sink: each test says what an export attempt does (succeed,
 * fail retryably or for good, never answer), so the queue's own behaviour is what is checked.
 */

function context(id = 'sink'): ComponentContext & { stats: () => Record<string, number> } {
  const telemetry = new Telemetry();
  return { id, kind: 'exporter', logger: pino({ level: 'silent' }), telemetry: telemetry.forComponent('exporter', id), stats: () => telemetry.stats().exporters![id] ?? {} };
}

function batchOf(records: number): LogBatch {
  return {
    resourceLogs: [
      {
        resource: { attributes: Object.create(null), droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeLogs: [{ scope: { name: '', version: '', attributes: Object.create(null), droppedAttributesCount: 0 }, schemaUrl: '', logRecords: Array.from({ length: records }, () => newLogRecord()) }],
      },
    ],
  };
}

/** A sink whose export attempts do what the test says; every payload is 1,000 bytes. */
function scriptedSender(attempt: ExportSender<Uint8Array>['attempt']): ExportSender<Uint8Array> & { calls: number } {
  const sender = {
    calls: 0,
    codec: bytesCodec,
    prepare: () => new Uint8Array(1000),
    attempt: (payload: Uint8Array, records: number, token: string, n: number) => {
      sender.calls++;
      return attempt(payload, records, token, n);
    },
  };
  return sender;
}

const never = () => new Promise<void>(() => undefined);
const quickRetries = retryOnFailureSchema.parse({ initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: 0 });

/** Settles with what p did, or 'still pending' if it has not after a generous while (a hang, not a slow machine). */
async function settled(p: Promise<unknown>, guardMs = 15_000): Promise<string> {
  const guard = new AbortController();
  const result = await Promise.race([
    p.then(
      () => 'resolved',
      (err: Error) => `rejected: ${err.name}`,
    ),
    sleep(guardMs, 'still pending', { signal: guard.signal }).catch(() => 'still pending'),
  ]);
  guard.abort();
  return result;
}

t.test('concurrent batches cannot overfill a disk queue: queue_size and max_bytes count batches still being written', async (t) => {
  for (const limits of [{ queue_size: 100 }, { queue_size: 1_000_000, max_bytes: 5000 }]) {
    const ctx = context();
    const exporter = new QueuedExporter(
      ctx,
      { sending_queue: sendingQueueSchema.parse({ ...limits, storage: tempDir('qe-limits'), num_consumers: 1 }), retry_on_failure: quickRetries },
      scriptedSender(never),
    );
    await exporter.start();
    await exporter.consume(batchOf(10));
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => exporter.consume(batchOf(10))));
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    const refusals = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).name);
    const health = exporter.health();
    if ('max_bytes' in limits) {
      t.equal(accepted, 4, 'max_bytes 5000: four more 1,000-byte batches are taken while the first is being exported');
      t.equal(health.queue_bytes, 5000);
    } else {
      t.equal(accepted, 9, 'queue_size 100: nine more batches of 10 are taken');
      t.equal(health.queue_size, 100, 'the queue holds exactly queue_size records');
    }
    t.same(new Set(refusals), new Set(['BackPressureError']), 'the others are refused with back-pressure');
    await exporter.shutdown(Date.now());
  }
});

t.test('an offset that cannot be written does not stop the exporter (or the process)', async (t) => {
  const storage = tempDir('qe-offset');
  const ctx = context('x');
  const sender = scriptedSender(async () => undefined);
  const exporter = new QueuedExporter(ctx, { sending_queue: sendingQueueSchema.parse({ storage, num_consumers: 1 }), retry_on_failure: quickRetries }, sender);
  await exporter.start();
  mkdirSync(join(storage, 'x', 'offset.tmp'));
  await exporter.consume(batchOf(1));
  await exporter.consume(batchOf(2));
  t.ok(await waitFor(async () => ctx.stats().exported === 3, 5000, 10), 'both batches are exported');
  t.equal(exporter.health().queue_size, 0);
  await exporter.shutdown(Date.now() + 1000);
});

t.test('a batch given up on stays queued until the dead-letter directory takes it', async (t) => {
  const storage = tempDir('qe-dl-storage');
  const deadLetter = tempDir('qe-dl');
  // A file where the exporter's dead-letter directory should be: writing an entry fails.
  writeFileSync(join(deadLetter, 'sink'), 'in the way');
  const start = async () => {
    const ctx = context();
    const exporter = new QueuedExporter(
      ctx,
      { sending_queue: sendingQueueSchema.parse({ storage, num_consumers: 1 }), retry_on_failure: quickRetries, dead_letter: deadLetterSchema.parse({ path: deadLetter }) },
      scriptedSender(() => Promise.reject(new PermanentExportError('type mismatch'))),
    );
    await exporter.start();
    return { exporter, ctx };
  };

  const first = await start();
  await first.exporter.consume(batchOf(3));
  t.ok(await waitFor(async () => /dead-letter directory cannot be written/.test(first.exporter.health().detail ?? ''), 5000, 10), '/health says why');
  await sleep(100);
  t.equal(first.exporter.health().queue_size, 3, 'the batch is still queued, the write retried');
  t.equal(first.ctx.stats().dead_lettered ?? 0, 0);
  t.equal(first.ctx.stats().failed ?? 0, 0, 'and not counted as failed yet');
  await first.exporter.shutdown(Date.now());

  const second = await start();
  t.equal(second.exporter.health().queue_size, 3, 'after a restart the batch is replayed from the disk queue');
  unlinkSync(join(deadLetter, 'sink'));
  t.ok(await waitFor(async () => second.ctx.stats().dead_lettered === 3, 5000, 10), 'once the directory can be written, the batch goes there');
  const entries = readdirSync(join(deadLetter, 'sink')).filter((f) => f.endsWith('.json'));
  t.equal(entries.length, 1, 'one entry');
  t.match(JSON.parse(readFileSync(join(deadLetter, 'sink', entries[0]!), 'utf8')), { reason: 'permanent', records: 3, error: 'type mismatch' });
  t.equal(second.exporter.health().queue_size, 0, 'and leaves the queue');
  await second.exporter.shutdown(Date.now() + 1000);

  const third = await start();
  t.equal(third.exporter.health().queue_size, 0, 'nothing replays after that');
  await third.exporter.shutdown(Date.now());
});

t.test('without a queue, a batch the dead-letter directory cannot take is refused, not dropped', async (t) => {
  const deadLetter = tempDir('qe-dl-direct');
  writeFileSync(join(deadLetter, 'sink'), 'in the way');
  const ctx = context();
  const exporter = new QueuedExporter(
    ctx,
    { sending_queue: sendingQueueSchema.parse({ enabled: false }), retry_on_failure: quickRetries, dead_letter: deadLetterSchema.parse({ path: deadLetter }) },
    scriptedSender(() => Promise.reject(new PermanentExportError('type mismatch'))),
  );
  await exporter.start();
  await t.rejects(exporter.consume(batchOf(2)), { name: 'BackPressureError', message: /dead-letter directory cannot be written/ }, 'the caller is told to send it again');
  unlinkSync(join(deadLetter, 'sink'));
  await t.resolves(exporter.consume(batchOf(2)));
  t.equal(ctx.stats().dead_lettered, 2);
  await exporter.shutdown(Date.now());
});

t.test('without a queue, an export retried for ever ends at the shutdown deadline', async (t) => {
  for (const [what, attempt] of [
    ['failing retryably, with an hour between retries', () => Promise.reject(new RetryableExportError('connection refused', { retryAfterMs: 3_600_000 }))],
    ['never answering', never],
  ] as const) {
    const ctx = context();
    const exporter = new QueuedExporter(
      ctx,
      { sending_queue: sendingQueueSchema.parse({ enabled: false }), retry_on_failure: retryOnFailureSchema.parse({ initial_interval: '1h', max_elapsed_time: 0 }) },
      scriptedSender(attempt),
    );
    await exporter.start();
    const pending = exporter.consume(batchOf(5));
    await sleep(20);
    exporter.prepareShutdown(Date.now() + 100);
    t.equal(await settled(pending), 'rejected: ShuttingDownError', `${what}: the caller is refused at the deadline`);
    await exporter.shutdown(Date.now());
  }
});

t.test('wait_for_flush: at the shutdown deadline requests whose batch is unanswered are refused', async (t) => {
  const processor = new FlushAcknowledgingBatchProcessor(
    batchConfigSchema.parse({ send_batch_size: 10, timeout: '10ms', wait_for_flush: true }),
    { id: 'batch', kind: 'processor', logger: pino({ level: 'silent' }), telemetry: new Telemetry().forComponent('processor', 'batch') },
    { consume: never },
  );
  await processor.start();
  const request = processor.consume(batchOf(3));
  await sleep(30);
  t.equal(await settled(processor.shutdown(Date.now() + 100)), 'resolved', 'shutdown returns at its deadline');
  t.equal(await settled(request), 'rejected: ShuttingDownError', 'the request is refused (its client sends it again)');
});

t.test('a batch that keeps failing retryably does not hold a consumer: the batches behind it are exported', async (t) => {
  for (const { consumers, mayBeThisBatch } of [
    { consumers: 1, mayBeThisBatch: true },
    { consumers: 2, mayBeThisBatch: false },
    { consumers: 2, mayBeThisBatch: true },
  ]) {
    const what = `${consumers} consumer(s), ${mayBeThisBatch ? 'an error that may be the batch' : 'an error that says nothing of the batch'}`;
    const ctx = context();
    let delivered = 0;
    let poisonAttempts = 0;
    // Batches of 2 records always fail; two of them come first, and with max_elapsed_time 0 would
    // hold both consumers for ever.
    const sender = scriptedSender(async (_p, records) => {
      await sleep(1);
      if (records === 2) {
        poisonAttempts++;
        throw new RetryableExportError('refused for now', { mayBeThisBatch });
      }
      delivered++;
    });
    const exporter = new QueuedExporter(ctx, { sending_queue: sendingQueueSchema.parse({ num_consumers: consumers }), retry_on_failure: quickRetries }, sender);
    await exporter.start();
    await exporter.consume(batchOf(2));
    await exporter.consume(batchOf(2));
    await sleep(30);
    for (let i = 0; i < 20; i++) await exporter.consume(batchOf(1));
    t.ok(await waitFor(async () => delivered === 20, 10_000), `${what}: the 20 batches behind are exported`);
    t.ok(poisonAttempts >= 4, `${what}: the failing ones are still retried (${poisonAttempts} attempts)`);
    t.equal(exporter.health().queue_size, 4, `${what}: and still queued`);
    await exporter.shutdown(Date.now());
  }
});
