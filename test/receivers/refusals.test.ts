import { spawnSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import t from 'tap';
import { loadConfig, startDaemon } from '../../src/daemon.js';
import { encodeLogsRequest } from '../../src/otlp/index.js';
import { JsonIngestReceiver } from '../../src/receivers/json_ingest/json-ingest-receiver.js';
import { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { SyslogReceiver } from '../../src/receivers/syslog/syslog-receiver.js';
import { RATE_LIMITED_LOG_INTERVAL_MS } from '../../src/telemetry/rate-limited-log.js';
import { tempDir } from '../support/daemon.js';
import { grpcExport, numberedBatch } from '../support/otlp-requests.js';

const dir = tempDir('refusals');
const YAML = `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, max_request_body_size: 4096 }
      grpc: { endpoint: 127.0.0.1:0, max_recv_msg_size_mib: 1 }
  json_ingest: { endpoint: 127.0.0.1:0, max_request_body_size: 4096 }
  syslog: { udp: { listen_address: 127.0.0.1:0 } }
processors:
  batch: { send_batch_size: 100, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${dir}/store" }
service:
  pipelines:
    logs: { receivers: [otlp, json_ingest, syslog], processors: [batch], exporters: [clickhouse] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;

interface LogLine {
  msg: string;
  component?: string;
  reason?: string;
  transport?: string;
  suppressed?: number;
}

t.test('every request the HTTP receivers refuse is counted by reason and logged rate-limited; kernel UDP drops are exported', async (t) => {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const daemon = await startDaemon(loadConfig({ text: YAML }, {}), pino({ level: 'warn' }, sink));
  t.teardown(() => daemon.stop());
  const receiver = <T>(id: string) => daemon.service.receivers.find((r) => r.id === id)!.component as T;
  const otlpPort = receiver<OtlpReceiver>('otlp').http!.port;
  const ingestPort = receiver<JsonIngestReceiver>('json_ingest').port;
  const syslogPort = receiver<SyslogReceiver>('syslog').udpPort;
  const metrics = async () => (await fetch(`http://127.0.0.1:${daemon.telemetryServer.port}/metrics`)).text();
  const refused = (text: string, receiverId: string, reason: string, transport = 'http') =>
    Number(new RegExp(`otelhouse_receiver_refused_requests_total\\{receiver="${receiverId}",transport="${transport}",reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  const post = async (port: number, path: string, contentType: string, body: string | Uint8Array) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
    await res.arrayBuffer();
    return res.status;
  };
  const big = 'x'.repeat(8192);

  await t.test('OTLP/HTTP', async (t) => {
    t.equal(await post(otlpPort, '/v1/logs', 'text/plain', 'hello'), 415);
    t.equal(await post(otlpPort, '/v1/logs', 'application/x-protobuf', big), 413);
    t.equal(await post(otlpPort, '/v1/logs', 'application/json', '{"resourceLogs": [ not json'), 400);
    t.equal(await post(otlpPort, '/v1/logs', 'application/x-protobuf', new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), 400);
    t.equal(await post(otlpPort, '/v1/logs', 'application/x-protobuf', encodeLogsRequest(numberedBatch(0, 2))), 200, 'a valid request passes');
    const text = await metrics();
    t.same(
      ['unsupported_media_type', 'too_large', 'undecodable'].map((r) => refused(text, 'otlp', r)),
      [1, 1, 2],
      'the 415, the 413 and the two 400s are counted under their reasons',
    );
  });

  await t.test('OTLP/gRPC', async (t) => {
    const grpcPort = receiver<OtlpReceiver>('otlp').grpc!.port;
    const garbage = await grpcExport(grpcPort, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    t.equal(garbage.code, grpc.status.INVALID_ARGUMENT, 'an undecodable request: INVALID_ARGUMENT');
    const oversize = await grpcExport(grpcPort, encodeLogsRequest(numberedBatch(0, 2, 'loadgen', 2 * 1024 * 1024)));
    t.equal(oversize.code, grpc.status.RESOURCE_EXHAUSTED, 'a request over max_recv_msg_size_mib: RESOURCE_EXHAUSTED, answered by grpc-js');
    t.equal((await grpcExport(grpcPort, encodeLogsRequest(numberedBatch(0, 2)))).code, grpc.status.OK, 'a valid request passes');
    const text = await metrics();
    t.same(
      ['undecodable', 'ended_before_message'].map((r) => refused(text, 'otlp', r, 'grpc')),
      [1, 1],
      'the undecodable request and the one grpc-js ended before its message are counted under their reasons',
    );
    const logged = (reason: string) => lines.some((l) => l.msg === 'request refused' && l.component === 'otlp' && l.reason === reason);
    t.ok(logged('undecodable') && logged('ended_before_message'), 'and logged');
  });

  await t.test('json_ingest', async (t) => {
    t.equal(await post(ingestPort, '/logs/ingest', 'text/plain', 'hello'), 415);
    t.equal(await post(ingestPort, '/logs/ingest', 'application/json', JSON.stringify({ org: 'o', message: big })), 413);
    t.equal(await post(ingestPort, '/logs/ingest', 'application/json', '{"org": "o", '), 400);
    t.equal(await post(ingestPort, '/logs/ingest', 'application/json', JSON.stringify({ message: 'no org' })), 400, 'a body of invalid entries only');
    t.equal(await post(ingestPort, '/logs/ingest', 'application/json', JSON.stringify({ org: 'o', message: 'fine' })), 200, 'a valid entry passes');
    const text = await metrics();
    t.same(
      ['unsupported_media_type', 'too_large', 'undecodable', 'invalid'].map((r) => refused(text, 'json_ingest', r)),
      [1, 1, 1, 1],
      'the 415, the 413, the bad JSON and the all-invalid body are counted under their reasons',
    );
  });

  await t.test('refusals are logged at most once per reason and interval, with the count suppressed', async (t) => {
    const badJson = () => post(otlpPort, '/v1/logs', 'application/json', '{');
    for (let i = 0; i < 5; i++) t.equal(await badJson(), 400);
    const undecodable = () => lines.filter((l) => l.msg === 'request refused' && l.component === 'otlp' && l.transport === 'http' && l.reason === 'undecodable');
    // Two were refused above: 7 so far.
    t.ok(undecodable().length < 7, `a burst is not logged line by line (${undecodable().length} lines for 7 refusals)`);
    await sleep(RATE_LIMITED_LOG_INTERVAL_MS + 100);
    t.equal(await badJson(), 400);
    const logged = undecodable();
    t.equal(logged.length + logged.reduce((n, l) => n + (l.suppressed ?? 0), 0), 8, 'each of the 8 refusals is a line or counted as suppressed in the next one');
    t.ok((logged.at(-1)!.suppressed ?? 0) > 0, 'the line after the interval tells how many were suppressed');
  });

  await t.test('kernel UDP receive drops of the syslog socket', async (t) => {
    const before = /otelhouse_receiver_udp_kernel_drops_total\{receiver="syslog"\} (\d+)/.exec(await metrics());
    t.ok(before, 'the metric exists for a running syslog UDP receiver');
    // Blocks this process, the daemon's, while a child floods the socket: the kernel's buffer fills and drops.
    const flood = spawnSync(
      process.execPath,
      [
        '-e',
        `const s = require('node:dgram').createSocket('udp4'); const m = Buffer.from('<14>1 - host flood - - - ' + 'x'.repeat(1000)); let left = 20000;
         const next = () => { if (left-- === 0) return s.close(); s.send(m, ${syslogPort}, '127.0.0.1', next); }; next();`,
      ],
      { stdio: 'inherit' },
    );
    t.equal(flood.status, 0, 'the flood was sent');
    const after = /otelhouse_receiver_udp_kernel_drops_total\{receiver="syslog"\} (\d+)/.exec(await metrics());
    t.ok(Number(after?.[1]) > Number(before?.[1]), `the kernel's drops are counted (${before?.[1]} → ${after?.[1]})`);
  });
});
