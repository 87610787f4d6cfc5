import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import t from 'tap';
import type { ComponentContext } from '../../src/pipeline/component.js';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/daemon.js';
import { retryOnFailureSchema, sendingQueueSchema } from '../../src/exporterhelper/config.js';
import { QueuedExporter, bytesCodec, type ExportSender, type PayloadBuilder } from '../../src/exporterhelper/queued-exporter.js';
import { newLogRecord, type LogBatch } from '../../src/pipeline/model.js';
import { consumeWaitingForRoom } from '../../src/pipeline/room-wait.js';
import { Telemetry } from '../../src/telemetry/metrics.js';
import { mountTmpfs, tmpfsUnavailable, unmount } from '../support/tmpfs.js';
import { tempDir, waitFor } from '../support/daemon.js';

/*
 * sending_queue.batch with a scripted sink: the builder's payload lists the sequence numbers of
 * the records added to it, so each test can say which records went out in which insert.
 */

function context(id = 'sink'): ComponentContext & { stats: () => Record<string, number> } {
  const telemetry = new Telemetry();
  return { id, kind: 'exporter', logger: pino({ level: 'silent' }), telemetry: telemetry.forComponent('exporter', id), stats: () => telemetry.stats().exporters![id] ?? {} };
}

let nextSeq = 0;

/** A batch of `records` records numbered from a running sequence (in their body). */
function batchOf(records: number): LogBatch {
  const logRecords = Array.from({ length: records }, () => {
    const r = newLogRecord();
    r.body = String(nextSeq++);
    return r;
  });
  return {
    resourceLogs: [
      {
        resource: { attributes: Object.create(null), droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeLogs: [{ scope: { name: '', version: '', attributes: Object.create(null), droppedAttributesCount: 0 }, schemaUrl: '', logRecords }],
      },
    ],
  };
}

const seqsOf = (batch: LogBatch): number[] => batch.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => Number(r.body))));

/** Bytes of the payload: the sequence numbers, comma-separated. */
const encodeSeqs = (seqs: number[]): Uint8Array => new TextEncoder().encode(seqs.join(','));
const decodeSeqs = (payload: Uint8Array): number[] => (payload.length === 0 ? [] : new TextDecoder().decode(payload).split(',').map(Number));

/** A batch whose `add` the scripted builder refuses (a value no encoder takes), having written half of it. */
const POISON = 'poison';

interface ScriptedSink extends ExportSender<Uint8Array> {
  /** The records of each attempt, in order. */
  attempts: number[][];
}

function scriptedSink(attempt: (seqs: number[]) => Promise<void> = async () => undefined): ScriptedSink {
  const sink: ScriptedSink = {
    attempts: [],
    codec: bytesCodec,
    prepare: (batch) => encodeSeqs(seqsOf(batch)),
    builder(): PayloadBuilder<Uint8Array> {
      const seqs: number[] = [];
      return {
        add(batch) {
          const before = seqs.length;
          seqs.push(...seqsOf(batch));
          if (batch.resourceLogs[0]?.schemaUrl === POISON) {
            seqs.length = before;
            throw new Error('a value the encoder refuses');
          }
        },
        finish: () => encodeSeqs(seqs),
      };
    },
    attempt: (payload) => {
      const seqs = decodeSeqs(payload);
      sink.attempts.push(seqs);
      return attempt(seqs);
    },
  };
  return sink;
}

const quickRetries = retryOnFailureSchema.parse({ initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: 0 });
const never = () => new Promise<void>(() => undefined);

/** What p has done so far: 'pending', 'resolved' or 'rejected: <name>: <message>'. */
function tracked(p: Promise<unknown>): { state: string } {
  const s = { state: 'pending' };
  p.then(
    () => (s.state = 'resolved'),
    (err: Error) => (s.state = `rejected: ${err.name}: ${err.message}`),
  );
  return s;
}

async function started(sink: ScriptedSink, queue: Record<string, unknown>, ctx = context()) {
  const exporter = new QueuedExporter(ctx, { sending_queue: sendingQueueSchema.parse({ num_consumers: 1, ...queue }), retry_on_failure: quickRetries }, sink);
  await exporter.start();
  return { exporter, ctx };
}

t.test('a batch is queued once it holds min_size records, and its callers are answered then', async (t) => {
  const sink = scriptedSink();
  const { exporter, ctx } = await started(sink, { batch: { min_size: 10, flush_timeout: '1h' } });
  t.teardown(() => exporter.shutdown(Date.now() + 1000));
  const first = [batchOf(3), batchOf(3), batchOf(3)];
  const calls = first.map((b) => tracked(exporter.consume(b)));
  await sleep(50);
  t.same(
    calls.map((c) => c.state),
    ['pending', 'pending', 'pending'],
    '9 records of min_size 10: nobody is answered yet',
  );
  t.equal(exporter.health().queue_size, 9, 'the batch being filled counts as queued');
  t.same(sink.attempts, [], 'nothing sent');
  const last = batchOf(3);
  await exporter.consume(last);
  await sleep(0);
  t.same(
    calls.map((c) => c.state),
    ['resolved', 'resolved', 'resolved'],
    'the fourth request fills it: all four are answered',
  );
  t.ok(await waitFor(async () => ctx.stats().exported === 12, 5000, 5), 'exported');
  t.same(sink.attempts, [[...first.flatMap(seqsOf), ...seqsOf(last)]], 'as one insert, in the order they came');
});

t.test('a batch short of min_size is queued flush_timeout after its first request', async (t) => {
  const sink = scriptedSink();
  const { exporter, ctx } = await started(sink, { batch: { min_size: 1000, flush_timeout: '100ms' } });
  t.teardown(() => exporter.shutdown(Date.now() + 1000));
  const call = tracked(exporter.consume(batchOf(5)));
  await sleep(0);
  t.equal(call.state, 'pending', 'not answered at once');
  t.ok(await waitFor(async () => call.state === 'resolved', 5000, 5), 'answered once the timeout queued it');
  t.ok(await waitFor(async () => ctx.stats().exported === 5, 5000, 5));
  t.equal(sink.attempts.length, 1);
  t.equal(sink.attempts[0]!.length, 5);
  // A later request starts a batch of its own, with its own timeout.
  await exporter.consume(batchOf(2));
  t.ok(await waitFor(async () => ctx.stats().exported === 7, 5000, 5));
  t.same(
    sink.attempts.map((a) => a.length),
    [5, 2],
  );
});

t.test('max_size: a request that would overfill the batch starts the next one; a larger request is an insert of its own', async (t) => {
  const sink = scriptedSink();
  const { exporter, ctx } = await started(sink, { batch: { min_size: 10, max_size: 12, flush_timeout: '1h' } });
  t.teardown(() => exporter.shutdown(Date.now() + 1000));
  const a = tracked(exporter.consume(batchOf(8)));
  const b = tracked(exporter.consume(batchOf(8)));
  await sleep(0);
  t.equal(a.state, 'resolved', '8 + 8 > max_size 12: the first batch is queued with 8');
  t.equal(b.state, 'pending', 'the second starts the next batch');
  await exporter.consume(batchOf(20));
  await sleep(0);
  t.equal(b.state, 'resolved', 'a request of 20 queues the batch before it');
  t.ok(await waitFor(async () => ctx.stats().exported === 36, 5000, 5));
  t.same(
    sink.attempts.map((x) => x.length),
    [8, 8, 20],
    'inserts of 8, 8 and 20 records: none past max_size but the one request larger than it',
  );
});

t.test('back-pressure counts the records of the batch being filled', async (t) => {
  const sink = scriptedSink(never);
  const { exporter } = await started(sink, { queue_size: 10, batch: { min_size: 10, flush_timeout: '1h' } });
  t.teardown(() => exporter.shutdown(Date.now()));
  const first = tracked(exporter.consume(batchOf(6)));
  await t.rejects(exporter.consume(batchOf(6)), { name: 'BackPressureError', message: /sending queue is full \(6 of 10 log records\)/ }, 'a request that does not fit is refused');
  t.equal(first.state, 'pending', 'the first is still being batched');
  t.equal(exporter.health().queue_size, 6, 'the refused request added nothing');
  const waited = tracked(consumeWaitingForRoom(5000, () => exporter.consume(batchOf(4))));
  await sleep(0);
  t.equal(waited.state, 'resolved', '6 + 4 fit, fill the batch, and both callers are answered');
  t.equal(first.state, 'resolved');
  t.equal(exporter.health().queue_size, 10);
});

t.test('a request the builder refuses is rejected alone; the batch it was added to keeps the others', async (t) => {
  const sink = scriptedSink();
  const { exporter, ctx } = await started(sink, { batch: { min_size: 9, flush_timeout: '1h' } });
  t.teardown(() => exporter.shutdown(Date.now() + 1000));
  const good1 = batchOf(4);
  const good2 = batchOf(5);
  const poison = batchOf(3);
  poison.resourceLogs[0]!.schemaUrl = POISON;
  const g1 = tracked(exporter.consume(good1));
  await t.rejects(exporter.consume(poison), { message: 'a value the encoder refuses' }, 'the poisoned request gets the error');
  t.equal(exporter.health().queue_size, 4, 'and is not counted as queued');
  await exporter.consume(good2);
  await sleep(0);
  t.equal(g1.state, 'resolved');
  t.ok(await waitFor(async () => ctx.stats().exported === 9, 5000, 5));
  t.same(sink.attempts, [[...seqsOf(good1), ...seqsOf(good2)]], 'the insert holds the two good requests, nothing of the refused one');
});

t.test('shutdown queues the batch being filled: with storage it is on disk, and stored after the next start', async (t) => {
  const storage = tempDir('sqb-shutdown');
  const first = await started(scriptedSink(never), { storage, batch: { min_size: 1000, flush_timeout: '1h' } });
  const batch = batchOf(7);
  const call = tracked(first.exporter.consume(batch));
  await sleep(20);
  t.equal(call.state, 'pending');
  first.exporter.prepareShutdown(Date.now() + 500);
  const late = batchOf(2);
  await first.exporter.consume(late);
  t.equal(call.state, 'resolved', 'prepareShutdown queues the open batch; what arrives while draining is queued at once');
  await first.exporter.shutdown(Date.now() + 200);

  const sink = scriptedSink();
  const second = await started(sink, { storage, batch: { min_size: 1000, flush_timeout: '1h' } }, context());
  t.teardown(() => second.exporter.shutdown(Date.now() + 1000));
  t.ok(await waitFor(async () => second.ctx.stats().exported === 9, 5000, 5), 'both replayed and exported after the restart');
  t.same(
    sink.attempts.flat().sort((x, y) => x - y),
    [...seqsOf(batch), ...seqsOf(late)].sort((x, y) => x - y),
  );
});

t.test('shutdown without prepareShutdown also queues the open batch before it stops', async (t) => {
  const storage = tempDir('sqb-shutdown-only');
  const first = await started(scriptedSink(never), { storage, batch: { min_size: 1000, flush_timeout: '1h' } });
  const call = tracked(first.exporter.consume(batchOf(3)));
  await first.exporter.shutdown(Date.now() + 500);
  t.equal(call.state, 'resolved', 'the caller is answered: its records are on disk');
  const second = await started(scriptedSink(), { storage }, context());
  t.teardown(() => second.exporter.shutdown(Date.now() + 1000));
  t.ok(await waitFor(async () => second.ctx.stats().exported === 3, 5000, 5), 'and exported after the restart (without batching configured)');
});

const cannotMount = tmpfsUnavailable();

t.test('a batch the disk queue cannot write is refused to every caller in it, and counted out of the queue', { skip: cannotMount ?? false }, async (t) => {
  const volume = tempDir('sqb-full-volume');
  t.equal(mountTmpfs(volume, '64k'), undefined, 'a 64 KiB tmpfs is mounted');
  t.teardown(() => unmount(volume));
  // 20 KiB a record: a batch of 5 (100 KiB) does not fit on the volume.
  const sink = scriptedSink(never);
  const codec = { encode: (p: Uint8Array) => p, decode: (b: Uint8Array) => b, byteLength: (p: Uint8Array) => p.byteLength };
  const builder = sink.builder!.bind(sink);
  const big: ScriptedSink = {
    ...sink,
    codec,
    builder: () => {
      const inner = builder();
      let records = 0;
      return {
        add: (b) => {
          inner.add(b);
          records += seqsOf(b).length;
        },
        finish: () => new Uint8Array(records * 20 * 1024).fill(1),
      };
    },
  };
  const { exporter } = await started(big, { storage: volume, batch: { min_size: 5, flush_timeout: '1h' } });
  t.teardown(() => exporter.shutdown(Date.now()));
  const calls = [1, 1, 1, 1].map(() => tracked(exporter.consume(batchOf(1))));
  await t.rejects(exporter.consume(batchOf(1)), { name: 'BackPressureError', message: /disk queue cannot write/ }, 'the request that filled the batch is refused with the write error');
  await sleep(0);
  for (const [i, c] of calls.entries()) t.match(c.state, /^rejected: BackPressureError: the disk queue cannot write/, `caller ${i + 1} of the batch too`);
  t.equal(exporter.health().queue_size, 0, 'none of its records counts as queued');
  t.equal(exporter.health().status, 'degraded', '/health says the queue cannot write');
});

function configIssues(sendingQueue: string, exporter = 'clickhouse:'): string[] {
  try {
    loadConfig(
      {
        text: `
receivers:
  otlp: { protocols: { http: {} } }
exporters:
  ${exporter}
    sending_queue:
${sendingQueue.replace(/^/gm, '      ')}
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [${exporter.split(':')[0]}] }
`,
      },
      {},
    );
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

t.test('sending_queue.batch config: defaults, and errors that name the key', async (t) => {
  t.same(configIssues('batch:'), [], 'an empty batch: section is valid');
  const config = loadConfig(
    {
      text: `
receivers:
  otlp: { protocols: { http: {} } }
exporters:
  clickhouse:
    sending_queue:
      batch:
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [clickhouse] }
`,
    },
    {},
  );
  const queue = (config.exporters.get('clickhouse')!.config as { sending_queue: { batch: unknown } }).sending_queue;
  t.same(queue.batch, { flush_timeout: 200, min_size: 8192, max_size: 0 }, 'batch: with nothing under it takes the defaults');
  const none = loadConfig(
    { text: 'receivers:\n  otlp: { protocols: { http: {} } }\nexporters:\n  clickhouse:\nservice:\n  pipelines:\n    logs: { receivers: [otlp], exporters: [clickhouse] }\n' },
    {},
  );
  t.equal((none.exporters.get('clickhouse')!.config as { sending_queue: { batch?: unknown } }).sending_queue.batch, undefined, 'no batch: section, no batching');

  const cases: Array<[string, RegExp]> = [
    ['batch: { min_size: 100, max_size: 50 }', /sending_queue\.batch\.max_size: .*min_size/],
    ['enabled: false\nbatch: {}', /sending_queue\.batch: .*enabled/],
    ['queue_size: 1000\nbatch: { min_size: 5000 }', /sending_queue\.batch\.min_size: must be at most sending_queue\.queue_size/],
    ['batch: { flush_timeout: 0s }', /sending_queue\.batch\.flush_timeout: /],
    ['batch: { min_size: -1 }', /sending_queue\.batch\.min_size: /],
    ['batch: { send_batch_size: 100 }', /sending_queue\.batch.*send_batch_size/],
  ];
  for (const [yaml, expected] of cases) {
    const issues = configIssues(yaml);
    t.ok(
      issues.some((i) => expected.test(i)),
      `${yaml.replace(/\n/g, '; ')} → ${issues.join(' | ') || 'no error'}`,
    );
  }
  const otlp = configIssues('batch: {}', 'otlp:\n    endpoint: gateway:4317');
  t.ok(
    otlp.some((i) => /^exporters\.otlp\.sending_queue\.batch: .*batch processor/.test(i)),
    `the otlp exporter refuses sending_queue.batch when the config loads → ${otlp.join(' | ') || 'no error'}`,
  );
});

t.test('with service.workers, min_size is at most the share of queue_size each worker has', async (t) => {
  const sink = scriptedSink();
  const ctx = { ...context(), worker: { index: 0, count: 4 } };
  const { exporter } = await started(sink, { queue_size: 100, batch: { min_size: 50, flush_timeout: '1h' } }, ctx);
  t.teardown(() => exporter.shutdown(Date.now() + 1000));
  const call = tracked(exporter.consume(batchOf(25)));
  await sleep(0);
  t.equal(call.state, 'resolved', 'a worker whose share is 25 records queues its insert at 25, not after an hour');
});
