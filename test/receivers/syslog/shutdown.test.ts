import { connect, type Socket } from 'node:net';
import t from 'tap';
import { pino } from 'pino';
import type { LogBatch } from '../../../src/pipeline/model.js';
import { syslogConfigSchema } from '../../../src/receivers/syslog/config.js';
import { syslogReceiverFactory } from '../../../src/receivers/syslog/index.js';
import type { SyslogReceiver } from '../../../src/receivers/syslog/syslog-receiver.js';
import { Telemetry } from '../../../src/telemetry/metrics.js';

const MESSAGES = 3000;

function frames(from: number, n: number): string {
  let out = '';
  for (let i = from; i < from + n; i++) {
    const msg = `<14>1 2026-11-22T10:00:00Z host app - - - sent before the shutdown ${i}`;
    out += `${Buffer.byteLength(msg)} ${msg}`;
  }
  return out;
}

async function startReceiver() {
  const bodies: string[] = [];
  const receiver = syslogReceiverFactory.create(
    syslogConfigSchema.parse({ tcp: { listen_address: '127.0.0.1:0' } }),
    { id: 'syslog', kind: 'receiver', logger: pino({ level: 'silent' }), telemetry: new Telemetry().forComponent('receiver', 'syslog') },
    {
      async consume(batch: LogBatch) {
        for (const rl of batch.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) bodies.push(r.body as string);
      },
    },
  );
  await receiver.start();
  return { receiver: receiver as SyslogReceiver, bodies };
}

async function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.on('error', () => undefined);
  return socket;
}

/**
 * TCP syslog has no acknowledgement but TCP's: what the kernel took, the sender counts as sent.
 * Messages written just before the shutdown (still in the daemon's socket buffer, unread) are
 * read and handed to the pipeline before the connections close.
 */
t.test('a shutdown reads what the senders already sent before it closes their connections', async (t) => {
  const { receiver, bodies } = await startReceiver();
  const idle = await open(receiver.tcpPort);
  const sender = await open(receiver.tcpPort);
  // Shut down as soon as the kernel has the bytes: the receiver has not read them yet.
  await new Promise<void>((resolve) => sender.write(frames(0, MESSAGES), () => resolve()));
  await receiver.shutdown(Date.now() + 10_000);
  t.equal(bodies.length, MESSAGES, `all ${MESSAGES} messages written before the shutdown reached the pipeline`);
  t.equal(new Set(bodies).size, MESSAGES, 'each once');
  idle.destroy();
  sender.destroy();
});

t.test('a sender that never stops does not hold the shutdown past its share of the deadline', async (t) => {
  const { receiver, bodies } = await startReceiver();
  const sender = await open(receiver.tcpPort);
  let sent = 0;
  let writing = true;
  const pump = () => {
    for (; writing; sent += 100) if (!sender.write(frames(sent, 100))) break;
    if (writing) sender.once('drain', pump);
  };
  pump();
  await new Promise((r) => setTimeout(r, 200));
  await receiver.shutdown(Date.now() + 4000);
  writing = false;
  t.ok(bodies.length > 0, `the shutdown finished, with ${bodies.length} messages read`);
  sender.destroy();
});
