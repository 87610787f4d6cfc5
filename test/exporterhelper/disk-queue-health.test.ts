import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import type { ComponentContext } from '../../src/pipeline/component.js';
import { DiskQueue } from '../../src/exporterhelper/disk-queue.js';
import { retryOnFailureSchema, sendingQueueSchema } from '../../src/exporterhelper/config.js';
import { QueuedExporter, bytesCodec, type ExportSender } from '../../src/exporterhelper/queued-exporter.js';
import { newLogRecord, type LogBatch } from '../../src/pipeline/model.js';
import { Telemetry } from '../../src/telemetry/metrics.js';
import { tempDir, waitFor } from '../support/daemon.js';
import { mountTmpfs, tmpfsUnavailable, unmount } from '../support/tmpfs.js';

/*
 * The exporter side of a disk queue's trouble: /health while the queue cannot write, and queue
 * directories that no configured exporter uses.
 */

function context(id: string, exporterIds?: string[]): ComponentContext & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { id, kind: 'exporter', logger, telemetry: new Telemetry().forComponent('exporter', id), exporterIds, lines };
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

const quickRetries = retryOnFailureSchema.parse({ initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: 0 });

const cannotMount = tmpfsUnavailable();

t.test('/health: a disk queue that cannot write makes its exporter degraded, with the error, until a write succeeds', { skip: cannotMount ?? false }, async (t) => {
  const volume = tempDir('qe-full-volume');
  t.equal(mountTmpfs(volume, '1m'), undefined, 'a 1 MiB tmpfs is mounted');
  t.teardown(() => unmount(volume));
  // The sink holds every export until released: nothing leaves the queue while the volume fills.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const sender: ExportSender<Uint8Array> = { codec: bytesCodec, prepare: () => new Uint8Array(16 * 1024).fill(7), attempt: () => released };
  const ctx = context('clickhouse');
  const exporter = new QueuedExporter(ctx, { sending_queue: sendingQueueSchema.parse({ storage: volume, num_consumers: 2 }), retry_on_failure: quickRetries }, sender);
  await exporter.start();
  t.teardown(() => exporter.shutdown(Date.now() + 2000));
  t.equal(exporter.health().status, 'ok');

  let accepted = 0;
  let refusal: Error | undefined;
  while (!refusal && accepted < 1000) {
    try {
      await exporter.consume(batchOf(1));
      accepted++;
    } catch (err) {
      refusal = err as Error;
    }
  }
  t.ok(accepted > 20, `${accepted} batches of 16 KiB were queued before the volume was full`);
  t.match(refusal, { name: 'BackPressureError', message: /disk queue cannot write/ }, 'then batches are refused with back-pressure');
  const health = exporter.health();
  t.equal(health.status, 'degraded', 'the exporter reports degraded');
  t.match(health.queue_write_error, /ENOSPC|short write/, 'with the write error');
  t.match(health.detail, /disk queue cannot write/);

  release();
  t.ok(await waitFor(async () => exporter.health().queue_size === 0, 10_000, 10), 'the queued batches are exported');
  t.equal(exporter.health().status, 'degraded', 'still degraded: nothing was written since the failure');
  await t.resolves(exporter.consume(batchOf(1)), 'the reclaimed space takes the next batch, without a restart');
  t.same({ status: exporter.health().status, error: exporter.health().queue_write_error }, { status: 'ok', error: undefined }, 'and the exporter is ok again');
});

t.test('a queue directory that no configured exporter uses, holding records, is warned about with the fix', async (t) => {
  const storage = tempDir('qe-orphan');
  const { queue: old } = await DiskQueue.open({ dir: join(storage, 'clickhouse'), fsync: 'never', fsyncIntervalMs: 1000, segmentBytes: 1 << 20, logger: pino({ level: 'silent' }) });
  for (let i = 0; i < 3; i++) await old.append(10, `t${i}`, Buffer.alloc(100));
  await old.close();
  const { queue: drained } = await DiskQueue.open({ dir: join(storage, 'otlp'), fsync: 'never', fsyncIntervalMs: 1000, segmentBytes: 1 << 20, logger: pino({ level: 'silent' }) });
  drained.ack((await drained.append(5, 'x', Buffer.alloc(100))).seq);
  await drained.close();

  const sender: ExportSender<Uint8Array> = { codec: bytesCodec, prepare: () => new Uint8Array(10), attempt: async () => undefined };
  const ctx = context('clickhouse/main', ['clickhouse/main', 'otlp/other']);
  const exporter = new QueuedExporter(ctx, { sending_queue: sendingQueueSchema.parse({ storage }), retry_on_failure: quickRetries }, sender);
  await exporter.start();
  t.teardown(() => exporter.shutdown(Date.now() + 2000));
  const warnings = ctx.lines.filter((l) => l.level === 40 && /no configured exporter uses/.test(String(l.msg)));
  t.equal(warnings.length, 1, "one warning: the renamed exporter's directory (the drained one holds nothing)");
  t.match(warnings[0], { dir: join(storage, 'clickhouse'), batches: 3, records: 30, msg: /Name the exporter clickhouse again .*or remove the directory/ });
});
