import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import { SyslogParser } from '../../../src/receivers/syslog/parser.js';
import { SyslogFrameDecoder, type SyslogFrame } from '../../../src/receivers/syslog/frame-decoder.js';
import { SyslogReceiver } from '../../../src/receivers/syslog/syslog-receiver.js';
import { fuzzCases, fuzzSeed, seededRandom, type Rand } from '../../support/fuzz.js';
import { embeddedClient, oneReceiverYaml, queryRows, startTestDaemon, tempDir, waitFor, type RunningDaemon } from '../../support/daemon.js';

const run = promisify(execFile);

async function startSyslogDaemon(path: string): Promise<{ daemon: RunningDaemon; tcpPort: number; udpPort: number }> {
  const daemon = await startTestDaemon(
    oneReceiverYaml({
      receiver: 'syslog:\n  tcp: { listen_address: 127.0.0.1:0 }\n  udp: { listen_address: 127.0.0.1:0 }\n  keep_raw: true\n  max_message_size: 4096',
      batch: 'send_batch_size: 5000, timeout: 50ms',
      clickhouse: `endpoint: "embedded://${path}"`,
    }),
  );
  const r = daemon.service.receivers[0]!.component as SyslogReceiver;
  return { daemon, tcpPort: r.tcpPort, udpPort: r.udpPort };
}

t.test('util-linux logger over TCP (newline and octet counting) and UDP, RFC 5424 and 3164', async (t) => {
  const path = tempDir('syslog-logger');
  const { daemon, tcpPort, udpPort } = await startSyslogDaemon(path);
  t.teardown(() => daemon.stop());
  const base = ['--server', '127.0.0.1', '-t', 'billing', '-p', 'local3.warning'];
  await run('logger', [...base, '--port', String(tcpPort), '--tcp', '--rfc5424', '--sd-id', 'order@32473', '--sd-param', 'id="42"', '--sd-param', 'note="paid in full"', 'tcp 5424 newline']);
  await run('logger', [...base, '--port', String(tcpPort), '--tcp', '--octet-count', '--rfc5424', '--msgid', 'PAY1', 'tcp 5424 octet ✓']);
  await run('logger', [...base, '--port', String(tcpPort), '--tcp', '--rfc3164', 'tcp 3164']);
  await run('logger', [...base, '--port', String(udpPort), '--udp', '--rfc5424', 'udp 5424']);
  await run('logger', [...base, '--port', String(udpPort), '--udp', '--rfc3164', 'udp 3164']);

  const client = embeddedClient(path);
  t.teardown(() => client.close());
  t.ok(await waitFor(async () => (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === '5'), 'five messages stored');
  const rows = await queryRows<{
    Body: string;
    ServiceName: string;
    SeverityText: string;
    SeverityNumber: number;
    ResourceAttributes: Record<string, string>;
    LogAttributes: Record<string, string>;
    age: number;
  }>(client, "SELECT Body, ServiceName, SeverityText, SeverityNumber, ResourceAttributes, LogAttributes, abs(dateDiff('second', Timestamp, now64(9))) AS age FROM otel.otel_logs ORDER BY Body");
  t.same(
    rows.map((r) => r.Body),
    ['tcp 3164', 'tcp 5424 newline', 'tcp 5424 octet ✓', 'udp 3164', 'udp 5424'],
  );
  for (const r of rows) {
    t.equal(r.ServiceName, 'billing', `${r.Body}: app-name → service.name`);
    t.equal(r.SeverityText, 'warning');
    t.equal(r.SeverityNumber, 13);
    t.equal(r.LogAttributes['syslog.facility'], '19', 'local3');
    t.equal(r.LogAttributes['network.peer.address'], '127.0.0.1');
    t.equal(r.LogAttributes['network.transport'], r.Body.startsWith('tcp') ? 'tcp' : 'udp');
    t.ok(r.age < 120, `${r.Body}: the message's own timestamp is used`);
    t.match(r.LogAttributes['log.record.original'], /billing/, 'keep_raw keeps the line');
    t.notOk(r.LogAttributes['syslog.parse_error'], `${r.Body}: parsed`);
  }
  const rfc5424 = rows.find((r) => r.Body === 'tcp 5424 newline')!;
  t.equal(rfc5424.ResourceAttributes['host.name'], hostname(), 'hostname → host.name');
  t.equal(rfc5424.LogAttributes['syslog.format'], 'rfc5424');
  t.match(JSON.parse(rfc5424.LogAttributes['syslog.structured_data']!), { 'order@32473': { id: '42', note: 'paid in full' } }, 'structured data');
  t.equal(rows.find((r) => r.Body === 'tcp 5424 octet ✓')!.LogAttributes['syslog.msgid'], 'PAY1');
  t.equal(rows.find((r) => r.Body === 'udp 3164')!.LogAttributes['syslog.format'], 'rfc3164');
});

function randomMessage(rand: () => number, valid: string[]): Buffer {
  const kind = rand();
  if (kind < 0.3) return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
  const base = Buffer.from(valid[Math.floor(rand() * valid.length)]!);
  const mutated = Buffer.from(base);
  const edits = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < edits; i++) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
  return kind < 0.6 ? mutated : mutated.subarray(0, Math.max(1, Math.floor(rand() * mutated.length)));
}

const VALID = [
  '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event',
  "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
  '<189>123: *Mar  1 00:00:12.345: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to up',
  '<13>1 2024-01-01T00:00:00Z h a - - [x@1 q="say \\"hi\\"" c="close\\]bracket"] body',
];

t.test('fuzz: 100,000 random and mutated messages through the parser and a live TCP connection', async (t) => {
  const rand = seededRandom(fuzzSeed(20261122));
  const parser = new SyslogParser({ protocol: 'auto', timeZone: 'Europe/Paris' });
  const messages = Array.from({ length: 100_000 }, () => randomMessage(rand, VALID));
  let parsed = 0;
  let raw = 0;
  const rawWithoutReason: string[] = [];
  for (const m of messages) {
    const text = m.toString('utf8');
    const r = parser.parse(text, Date.now());
    if (r.format !== 'raw') parsed++;
    else if (r.error) raw++;
    else rawWithoutReason.push(text);
  }
  t.same(rawWithoutReason, [], 'every unparsed message says why');
  t.equal(parsed + raw, messages.length, `${parsed} parsed, ${raw} raw with a reason, no throw`);
  t.ok(parsed > 10_000 && raw > 10_000, 'the corpus exercises both outcomes');

  const path = tempDir('syslog-fuzz');
  const { daemon, tcpPort } = await startSyslogDaemon(path);
  t.teardown(() => daemon.stop());
  await new Promise<void>((resolve, reject) => {
    const socket = connect(tcpPort, '127.0.0.1', () => {
      for (const m of messages) socket.write(Buffer.concat([Buffer.from(`${m.length} `), m]));
      socket.end();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  const client = embeddedClient(path);
  t.teardown(() => client.close());
  t.ok(
    await waitFor(async () => (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === String(messages.length), 120_000),
    'every message is stored (parsed, or raw with a reason)',
  );
  const [summary] = await queryRows<{ unparsed_without_reason: string }>(
    client,
    "SELECT toString(countIf(LogAttributes['syslog.format'] = '' AND LogAttributes['syslog.parse_error'] = '')) AS unparsed_without_reason FROM otel.otel_logs",
  );
  t.equal(summary!.unparsed_without_reason, '0');
});

/** A TCP syslog stream of well-formed, broken and hostile frames. */
function randomStream(rand: Rand, frames: number): Buffer {
  const parts: Buffer[] = [];
  const msg = () => Buffer.from(rand.pick(VALID).slice(0, 1 + rand.int(200)));
  for (let i = 0; i < frames; i++) {
    const m = msg();
    switch (rand.int(12)) {
      case 0: // octet count shorter than the message
        parts.push(Buffer.from(`${Math.max(1, m.length - 1 - rand.int(10))} `), m);
        break;
      case 1: // octet count longer than the message: swallows what follows
        parts.push(Buffer.from(`${m.length + 1 + rand.int(50)} `), m);
        break;
      case 2: // an absurd length
        parts.push(Buffer.from(`${rand.pick(['99999999999', '4294967296', '0', '00012', '9999999'])} `), m, Buffer.from('\n'));
        break;
      case 3: // digits with no space
        parts.push(Buffer.from(`${rand.int(100000)}`), m, Buffer.from('\n'));
        break;
      case 4: // a line longer than max_message_size
        parts.push(Buffer.alloc(4096 + rand.int(10000), 0x41 + rand.int(26)), Buffer.from(rand.chance(0.5) ? '\n' : '\r\n'));
        break;
      case 5: // an octet-counted message longer than max_message_size
        parts.push(Buffer.from(`${5000 + rand.int(5000)} `), Buffer.alloc(5000 + rand.int(5000), 0x42));
        break;
      case 6: // binary junk, NULs, invalid UTF-8
        parts.push(Buffer.from(Array.from({ length: 1 + rand.int(100) }, () => rand.pick([0x00, 0xff, 0xc3, 0x0a, 0x0d, 0x20, 0x31, rand.int(256)]))));
        break;
      case 7: // empty lines and CRLF
        parts.push(Buffer.from(rand.pick(['\n', '\r\n', '\n\n', '\r\n\r\n'])));
        break;
      case 8: // CRLF-terminated message
        parts.push(m, Buffer.from('\r\n'));
        break;
      default: // well-formed: octet-counted or newline-framed
        parts.push(rand.chance(0.5) ? Buffer.concat([Buffer.from(`${m.length} `), m]) : Buffer.concat([m, Buffer.from('\n')]));
    }
  }
  return Buffer.concat(parts);
}

function decodeStream(stream: Buffer, chunks: number[], mode: 'truncate' | 'drop'): { frames: SyslogFrame[]; dropped: number } {
  const decoder = new SyslogFrameDecoder(4096, mode);
  const frames: SyslogFrame[] = [];
  let at = 0;
  for (const size of chunks) {
    decoder.push(stream.subarray(at, at + size), frames);
    at += size;
  }
  if (at < stream.length) decoder.push(stream.subarray(at), frames);
  decoder.end(frames);
  return { frames, dropped: decoder.dropped };
}

t.test('fuzz: the TCP framer gives the same frames however the stream is cut, and a live connection stores them', async (t) => {
  const seed = fuzzSeed(5425);
  const rand = seededRandom(seed);
  const problems: string[] = [];
  const streams = fuzzCases(200);
  for (let s = 0; s < streams; s++) {
    const stream = randomStream(rand, 20 + rand.int(80));
    for (const mode of ['truncate', 'drop'] as const) {
      const whole = decodeStream(stream, [stream.length], mode);
      const cuts: number[] = [];
      for (let left = stream.length; left > 0;) {
        const n = Math.min(left, rand.chance(0.3) ? 1 : 1 + rand.int(300));
        cuts.push(n);
        left -= n;
      }
      const cut = decodeStream(stream, cuts, mode);
      if (JSON.stringify(cut) !== JSON.stringify(whole)) problems.push(`stream ${s} (${mode}): ${whole.frames.length} frames whole, ${cut.frames.length} when cut`);
      const long = whole.frames.find((f) => Buffer.byteLength(f.text) > 4096 * 3);
      if (long) problems.push(`stream ${s} (${mode}): a frame of ${Buffer.byteLength(long.text)} bytes passed max_message_size`);
    }
  }
  t.same(problems.slice(0, 10), [], `${streams} streams (seed ${seed}), cut at random points`);

  const path = tempDir('syslog-framer-fuzz');
  const { daemon, tcpPort } = await startSyslogDaemon(path);
  t.teardown(() => daemon.stop());
  // One connection per stream: a length prefix that claims megabytes swallows the rest of its stream.
  const streamsSent = Array.from({ length: 30 }, () => randomStream(rand, 100));
  const expected = streamsSent.reduce((n, stream) => n + decodeStream(stream, [stream.length], 'truncate').frames.length, 0);
  const sendStream = (stream: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const socket = connect(tcpPort, '127.0.0.1', () => {
        socket.setNoDelay(true);
        for (let at = 0; at < stream.length;) {
          const n = 1 + rand.int(2000);
          socket.write(stream.subarray(at, at + n));
          at += n;
        }
        socket.end();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
  await Promise.all(streamsSent.map(sendStream));
  const client = embeddedClient(path);
  t.teardown(() => client.close());
  t.ok(
    await waitFor(async () => (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === String(expected), 60_000),
    `the ${expected} frames of 30 hostile streams are stored`,
  );
  await run('logger', ['--server', '127.0.0.1', '--port', String(tcpPort), '--tcp', '--rfc5424', '-t', 'after', 'still listening']);
  t.ok(
    await waitFor(async () => (await queryRows<{ n: string }>(client, "SELECT toString(count()) AS n FROM otel.otel_logs WHERE Body = 'still listening'"))[0]!.n === '1'),
    'the receiver still takes new connections',
  );
});
