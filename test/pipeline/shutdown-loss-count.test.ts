import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { loadConfig, startDaemon } from '../../src/daemon.js';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { numberedBatch } from '../support/otlp-requests.js';

interface LogLine {
  msg: string;
  level: number;
  records?: number;
}

/*
 * The records the consumers held at the deadline count too: QueuedExporter.shutdown once logged
 * only what was still queued (120 of 140 here), while the metric counted all.
 */
t.test('the shutdown log counts every acknowledged record a memory queue loses, the ones in flight too', async (t) => {
  // A sink that takes connections and never answers: each export attempt ends in the exporter's timeout.
  const sockets = new Set<Socket>();
  const sink = createServer((s) => sockets.add(s.on('close', () => sockets.delete(s)).on('error', () => undefined)));
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    sink.close();
  });
  const sinkPort = (sink.address() as { port: number }).port;
  const lines: LogLine[] = [];
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const daemon = await startDaemon(
    loadConfig(
      {
        text: `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${sinkPort}
    timeout: 100ms
    sending_queue: { queue_size: 1000, num_consumers: 2 }
    retry_on_failure: { initial_interval: 50ms, max_interval: 100ms, max_elapsed_time: 0 }
service:
  shutdown_timeout: 1s
  pipelines:
    logs: { receivers: [otlp], exporters: [otlphttp] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`,
      },
      {},
    ),
    pino({ level: 'info' }, logs),
  );
  const port = (daemon.service.receivers[0]!.component as OtlpReceiver).http!.port;
  let acknowledged = 0;
  for (let i = 0; i < 14; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/x-protobuf' }, body: encodeLogsRequest(numberedBatch(i * 10, 10)) });
    await res.arrayBuffer();
    if (res.status === 200) acknowledged += 10;
  }
  t.equal(acknowledged, 140, 'all 140 records were acknowledged (queued in memory)');
  await daemon.stop();

  const failed = daemon.service.telemetry.registry.getSingleMetric('otelhouse_exporter_send_failed_log_records_total');
  const shutdownLosses = (await failed!.get()).values.filter((v) => v.labels.reason === 'shutdown').reduce((n, v) => n + v.value, 0);
  t.equal(shutdownLosses, 140, 'the metric counts the 140 lost: nothing was exported');
  const logged = lines.filter((l) => /shutdown deadline reached/.test(l.msg) && l.level >= 40).reduce((n, l) => n + (l.records ?? 0), 0);
  t.equal(logged, 140, 'and the shutdown log says 140, the ones the consumers held included');
});
