import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { DiskQueue, type FsyncPolicy, type StoredRecord } from '../src/pipeline/disk-queue.js';
import { tempDir } from './support/daemon.js';

/** A logger that keeps what it was told, to check what the queue reports. */
function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

function open(dir: string, o: { fsync?: FsyncPolicy; segmentBytes?: number; logger?: pino.Logger } = {}) {
  return DiskQueue.open({ dir, fsync: o.fsync ?? 'interval', fsyncIntervalMs: 50, segmentBytes: o.segmentBytes ?? 1 << 20, logger: o.logger ?? pino({ level: 'silent' }) });
}

const payloadOf = (i: number) => Buffer.from(`payload ${i} `.repeat(1 + (i % 7)));

async function fill(queue: DiskQueue, from: number, to: number): Promise<StoredRecord[]> {
  return Promise.all(Array.from({ length: to - from }, (_, k) => queue.append(10 + from + k, `token-${from + k}`, payloadOf(from + k))));
}

const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();

t.test('appended records replay after reopening, in order, with their tokens and payloads', async (t) => {
  const dir = tempDir('dq-replay');
  const { queue } = await open(dir);
  const written = await fill(queue, 0, 50);
  t.same(written.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1), 'sequence numbers follow the append order');
  t.same(await queue.read(written[7]!), payloadOf(7), 'a payload reads back before closing');
  await queue.close();

  const { queue: again, replay } = await open(dir);
  t.teardown(() => again.close());
  t.equal(replay.records.length, 50);
  t.same(replay.records.map((r) => r.token), Array.from({ length: 50 }, (_, i) => `token-${i}`));
  t.same(replay.records.map((r) => r.records), Array.from({ length: 50 }, (_, i) => 10 + i));
  for (const r of replay.records) t.same(await again.read(r), payloadOf(Number(r.token.slice(6))), `payload of ${r.token}`);
  t.equal(replay.damagedRegions, 0);
  const next = await again.append(1, 'after', Buffer.from('x'));
  t.equal(next.seq, 51, 'numbering continues after the replayed records');
});

t.test('acknowledged records do not replay; out-of-order acknowledgements replay until the prefix is done', async (t) => {
  const dir = tempDir('dq-ack');
  const { queue } = await open(dir);
  const written = await fill(queue, 0, 10);
  for (const seq of [1, 2, 3, 5, 6]) queue.ack(seq);
  await queue.close();

  const { queue: again, replay } = await open(dir);
  t.same(replay.records.map((r) => r.seq), [4, 5, 6, 7, 8, 9, 10], 'the offset stops at the first record not acknowledged');
  for (const seq of [4, 5, 6, 7, 8, 9, 10]) again.ack(seq);
  await again.close();
  const { queue: third, replay: none } = await open(dir);
  t.teardown(() => third.close());
  t.equal(none.records.length, 0, 'nothing replays once everything is acknowledged');
  t.equal((await third.append(1, 'next', Buffer.from('y'))).seq, written.length + 1, 'sequence numbers never go back, even with no record left');
});

t.test('segments rotate by size and are deleted once every record in them is acknowledged', async (t) => {
  const dir = tempDir('dq-rotate');
  const { queue } = await open(dir, { segmentBytes: 4096 });
  t.teardown(() => queue.close());
  const written: StoredRecord[] = [];
  for (let i = 0; i < 40; i++) written.push(await queue.append(1, `t${i}`, Buffer.alloc(700, i)));
  const used = new Set(written.map((r) => r.segment));
  t.ok(used.size >= 5, `40 records of 700 bytes span ${used.size} segments of 4 KiB`);
  t.equal(segments(dir).length, used.size, 'one file per segment');
  for (const r of written.slice(0, 20)) queue.ack(r.seq);
  const firstLive = written[20]!.segment;
  t.same(
    segments(dir).map((f) => Number(f.slice(0, 10))),
    [...used].filter((n) => n >= firstLive),
    'segments whose records are all acknowledged are gone, the others stay',
  );
  for (const r of written.slice(20)) queue.ack(r.seq);
  t.equal(segments(dir).length, 1, 'only the segment being written remains');
});

t.test('damaged records are skipped with a count; every intact record replays', async (t) => {
  const dir = tempDir('dq-corrupt');
  const { queue } = await open(dir, { segmentBytes: 1 << 20 });
  const written = await fill(queue, 0, 30);
  await queue.close();
  const [segment] = segments(dir);
  const path = join(dir, segment!);

  const bytes = readFileSync(path);
  // A flipped bit inside record 10's payload, and record 20's length field overwritten.
  bytes[written[9]!.offset + written[9]!.length - 3]! ^= 0x40;
  bytes.writeUInt32LE(0x7fff_ff00, written[19]!.offset + 4);
  writeFileSync(path, bytes);
  // A torn tail: the last record cut in half.
  truncateSync(path, statSync(path).size - Math.floor(written[29]!.length / 2));
  // And a segment of garbage after it.
  writeFileSync(join(dir, '0000000099.seg'), Buffer.from('not a queue segment at all'));

  const { logger, lines } = recordingLogger();
  const { queue: again, replay } = await open(dir, { logger });
  t.teardown(() => again.close());
  const expected = Array.from({ length: 30 }, (_, i) => i + 1).filter((s) => s !== 10 && s !== 20 && s !== 30);
  t.same(replay.records.map((r) => r.seq), expected, 'records 10, 20 and 30 are skipped, the 27 others replay');
  for (const r of replay.records) t.same(await again.read(r), payloadOf(r.seq - 1));
  t.equal(replay.damagedRegions, 4, 'four damaged stretches: a bad checksum, a bad length, a torn tail, a garbage segment');
  t.equal(replay.missingSeqs, 2, 'two sequence numbers are missing between intact records');
  t.ok(lines.filter((l) => /damaged stretch/.test(String(l.msg))).length === 4, 'each damaged stretch is logged');
  t.equal((await again.append(1, 'new', Buffer.from('z'))).seq, 30, 'the torn last record number is reused: it never reached anyone');
});

t.test('a record damaged after it was written is reported when it is read back', async (t) => {
  const dir = tempDir('dq-readback');
  const { queue } = await open(dir);
  t.teardown(() => queue.close());
  const [r] = await fill(queue, 0, 1);
  const path = join(dir, segments(dir)[0]!);
  const bytes = readFileSync(path);
  bytes[r!.offset + r!.length - 1]! ^= 1;
  writeFileSync(path, bytes);
  await t.rejects(queue.read(r!), { name: 'CorruptRecordError' });
});

t.test('fsync: always and never both store and replay', async (t) => {
  for (const fsync of ['always', 'never'] as const) {
    const dir = tempDir(`dq-${fsync}`);
    const { queue } = await open(dir, { fsync });
    await fill(queue, 0, 20);
    await queue.close();
    const { queue: again, replay } = await open(dir, { fsync });
    t.equal(replay.records.length, 20, `fsync: ${fsync}`);
    await again.close();
  }
});

t.test('one process per queue directory; a dead owner\'s lock is taken over', async (t) => {
  const dir = tempDir('dq-lock');
  const sleeper = spawn('sleep', ['30']);
  t.teardown(() => sleeper.kill());
  writeFileSync(join(dir, 'lock'), `${sleeper.pid}\n`);
  await t.rejects(open(dir), /in use by process \d+/, 'a live process holds it');

  const dead = spawn('true');
  await new Promise((r) => dead.once('close', r));
  writeFileSync(join(dir, 'lock'), `${dead.pid}\n`);
  const { queue } = await open(dir);
  t.equal(readFileSync(join(dir, 'lock'), 'utf8').trim(), String(process.pid), 'the lock now names this process');
  await queue.close();
  t.notOk(readdirSync(dir).includes('lock'), 'closing releases it');
});

t.test('a closed queue refuses appends with back-pressure', async (t) => {
  const dir = tempDir('dq-closed');
  const { queue } = await open(dir);
  await fill(queue, 0, 3);
  await queue.close();
  await t.rejects(queue.append(1, 'late', Buffer.from('x')), { name: 'BackPressureError' });
  const { queue: again, replay } = await open(dir);
  t.teardown(() => again.close());
  t.equal(replay.records.length, 3, 'what it had stays');
});
