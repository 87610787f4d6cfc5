import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { loadConfig, startDaemon, type Daemon } from '../../../src/daemon.js';
import { encodeLogsRequest } from '../../../src/otlp/index.js';
import { OtlpReceiver } from '../../../src/receivers/otlp/otlp-receiver.js';
import { tempDir } from '../../support/daemon.js';
import { freePort } from '../../support/ports.js';
import { numberedBatch } from '../../support/otlp-requests.js';

/**
 * OTLP/HTTP → batch (as given) → otlphttp exporter towards a port nobody listens on, so nothing
 * leaves its sending queue of 10 records: the first request of 10 fills it, the next does not fit.
 */
async function yaml(batch: string, storage: boolean): Promise<string> {
  const dead = await freePort();
  return `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
processors:
  batch: ${batch}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${dead}
    sending_queue: { queue_size: 10, num_consumers: 1${storage ? `, storage: ${tempDir('batch-default-queue')}` : ''} }
    retry_on_failure: { initial_interval: 50ms, max_interval: 100ms, max_elapsed_time: 0 }
service:
  shutdown_timeout: 500ms
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [otlphttp] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;
}

async function start(text: string): Promise<{ daemon: Daemon; warnings: string[]; send: (first: number) => Promise<number> }> {
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) warnings.push((JSON.parse(line) as { msg: string }).msg);
      done();
    },
  });
  const daemon = await startDaemon(loadConfig({ text }, {}), pino({ level: 'warn' }, sink));
  const port = (daemon.service.receivers[0]!.component as OtlpReceiver).http!.port;
  const send = async (first: number) => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/x-protobuf' }, body: encodeLogsRequest(numberedBatch(first, 10)) });
    await res.arrayBuffer();
    return res.status;
  };
  return { daemon, warnings, send };
}

const LOSS_WARNING = /wait_for_flush: false in front of a persistent sending queue/;

t.test('batch: {} in front of a disk queue acknowledges only what the queue took', async (t) => {
  const { daemon, warnings, send } = await start(await yaml('{}', true));
  t.teardown(() => daemon.stop());
  t.equal(await send(0), 200, 'the first request is answered once it is in the disk queue');
  t.equal(await send(10), 429, 'the next does not fit the queue: the client is told to retry, not that it was accepted');
  t.notOk(
    warnings.some((w) => LOSS_WARNING.test(w)),
    'no warning: nothing acknowledged is held in memory only',
  );
});

t.test('an explicit wait_for_flush: false in front of a disk queue keeps its meaning, with a warning at start', async (t) => {
  const { daemon, warnings, send } = await start(await yaml('{ wait_for_flush: false }', true));
  t.teardown(() => daemon.stop());
  t.equal(await send(0), 200);
  t.equal(await send(10), 200, "acknowledged from the batch processor's memory, although the queue is full");
  t.ok(
    warnings.some((w) => LOSS_WARNING.test(w)),
    'the start warns that acknowledged records may be lost on a crash',
  );
});

t.test("without a disk queue, batch: {} keeps the batch processor's default (acknowledged from memory)", async (t) => {
  const { daemon, warnings, send } = await start(await yaml('{}', false));
  t.teardown(() => daemon.stop());
  t.equal(await send(0), 200);
  t.equal(await send(10), 200, 'held in the batch processor while the memory queue is full');
  t.notOk(warnings.some((w) => LOSS_WARNING.test(w)));
});
