import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import t from 'tap';
import { DiskQueue, type FsyncPolicy, type StoredRecord } from '../../src/exporterhelper/disk-queue.js';
import type { QueueLockTiming } from '../../src/exporterhelper/queue-lock.js';
import { tempDir, waitFor } from '../support/daemon.js';
import { mountTmpfs, tmpfsUnavailable, unmount } from '../support/tmpfs.js';

/** A logger that keeps what it was told, to check what the queue reports. */
function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

function open(dir: string, o: { fsync?: FsyncPolicy; segmentBytes?: number; logger?: pino.Logger; lock?: QueueLockTiming } = {}) {
  return DiskQueue.open({ dir, fsync: o.fsync ?? 'interval', fsyncIntervalMs: 50, segmentBytes: o.segmentBytes ?? 1 << 20, logger: o.logger ?? pino({ level: 'silent' }), lock: o.lock });
}

const committedOf = (dir: string) => (JSON.parse(readFileSync(join(dir, 'offset'), 'utf8')) as { committed: number }).committed;

const payloadOf = (i: number) => Buffer.from(`payload ${i} `.repeat(1 + (i % 7)));

async function fill(queue: DiskQueue, from: number, to: number): Promise<StoredRecord[]> {
  return Promise.all(Array.from({ length: to - from }, (_, k) => queue.append(10 + from + k, `token-${from + k}`, payloadOf(from + k))));
}

const segments = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort();

t.test('appended records replay after reopening, in order, with their tokens and payloads', async (t) => {
  const dir = tempDir('dq-replay');
  const { queue } = await open(dir);
  const written = await fill(queue, 0, 50);
  t.same(
    written.map((r) => r.seq),
    Array.from({ length: 50 }, (_, i) => i + 1),
    'sequence numbers follow the append order',
  );
  t.same(await queue.read(written[7]!), payloadOf(7), 'a payload reads back before closing');
  await queue.close();

  const { queue: again, replay } = await open(dir);
  t.teardown(() => again.close());
  t.equal(replay.records.length, 50);
  t.same(
    replay.records.map((r) => r.token),
    Array.from({ length: 50 }, (_, i) => `token-${i}`),
  );
  t.same(
    replay.records.map((r) => r.records),
    Array.from({ length: 50 }, (_, i) => 10 + i),
  );
  for (const r of replay.records) t.same(await again.read(r), payloadOf(Number(r.token.slice(6))), `payload of ${r.token}`);
  t.equal(replay.damagedRegions, 0);
  const next = await again.append(1, 'after', Buffer.from('x'));
  t.equal(next.seq, 51, 'numbering continues after the replayed records');
});

t.test('acknowledged records do not replay, in order or not', async (t) => {
  const dir = tempDir('dq-ack');
  const { queue } = await open(dir);
  const written = await fill(queue, 0, 10);
  for (const seq of [1, 2, 3, 5, 6]) queue.ack(seq);
  await queue.close();
  t.equal(committedOf(dir), 4, 'the offset stops at the first record not acknowledged');

  const { queue: again, replay } = await open(dir);
  t.same(
    replay.records.map((r) => r.seq),
    [4, 7, 8, 9, 10],
    'those acknowledged above it do not replay either',
  );
  for (const seq of [4, 7, 8, 9, 10]) again.ack(seq);
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
  t.same(
    replay.records.map((r) => r.seq),
    expected,
    'records 10, 20 and 30 are skipped, the 27 others replay',
  );
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

t.test('a damaged record leaves no hole: once the records around it are acknowledged the offset moves on', async (t) => {
  const dir = tempDir('dq-hole-damaged');
  const { queue } = await open(dir);
  const written = await fill(queue, 0, 5);
  await queue.close();
  const path = join(dir, segments(dir)[0]!);
  const bytes = readFileSync(path);
  bytes[written[1]!.offset + written[1]!.length - 3]! ^= 0x40;
  writeFileSync(path, bytes);

  const { queue: again, replay } = await open(dir);
  t.same(
    replay.records.map((r) => r.seq),
    [1, 3, 4, 5],
    'record 2 is skipped',
  );
  for (const r of replay.records) again.ack(r.seq);
  for (let i = 0; i < 3; i++) again.ack((await again.append(1, `new-${i}`, Buffer.from('n'))).seq);
  await again.close();
  t.equal(committedOf(dir), 9, "the offset passed the damaged record's number");
  t.equal(segments(dir).length, 1, 'the segment holding it was deleted');
  const { queue: third, replay: after } = await open(dir);
  t.teardown(() => third.close());
  t.same(after.records, [], 'nothing exported replays after the next restart');
});

t.test('a write the disk refuses leaves no hole: its number is passed over', async (t) => {
  // A real refused write: the kernel's file size limit gives a short write, then EFBIG.
  const dir = tempDir('dq-hole-write');
  const child = new URL('../support/disk-queue-fsize-child.js', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)('prlimit', ['--fsize=8192', process.execPath, child, dir]);
  const result = JSON.parse(stdout) as { stored: number[]; refused: string[] };
  t.same(result.stored, [1, 3, 4, 5], 'the record too large for the limit got number 2 and was refused');
  t.match(result.refused, [/^BackPressureError: the disk queue cannot write: short write/]);
  t.equal(committedOf(dir), 6, 'the offset passed number 2 once 3, 4 and 5 were acknowledged');
  const { queue, replay } = await open(dir);
  t.teardown(() => queue.close());
  t.same(replay.records, [], 'nothing replays: every stored record was acknowledged');
  t.equal((await queue.append(1, 'next', Buffer.from('x'))).seq, 6);
});

t.test('an unreadable offset file with older segments gone: the offset restarts at the oldest stored record', async (t) => {
  const dir = tempDir('dq-hole-offset');
  const { queue } = await open(dir, { segmentBytes: 4096 });
  const written: StoredRecord[] = [];
  for (let i = 0; i < 12; i++) written.push(await queue.append(1, `t${i}`, Buffer.alloc(700, i)));
  for (const r of written.slice(0, 7)) queue.ack(r.seq);
  await queue.close();
  t.ok(written[0]!.segment !== written[11]!.segment && !segments(dir).includes('0000000001.seg'), 'the first segment was deleted');
  writeFileSync(join(dir, 'offset'), 'not json');

  const { logger, lines } = recordingLogger();
  const { queue: again, replay } = await open(dir, { segmentBytes: 4096, logger });
  t.ok(
    lines.some((l) => /offset file is unreadable/.test(String(l.msg))),
    'the unreadable offset is logged',
  );
  const first = replay.records[0]!.seq;
  t.ok(first > 1 && first <= 8, `replay starts at the oldest stored record (${first}), not at 1`);
  t.same(
    replay.records.map((r) => r.seq),
    Array.from({ length: 13 - first }, (_, i) => first + i),
    'everything stored from there replays',
  );
  for (const r of replay.records) again.ack(r.seq);
  await again.close();
  t.equal(committedOf(dir), 13, 'the offset moves again once the replay is acknowledged');
  const { queue: third, replay: after } = await open(dir, { segmentBytes: 4096 });
  t.teardown(() => third.close());
  t.same(after.records, [], 'and the next restart replays nothing');
});

t.test('an offset file that cannot be written is logged and retried, never thrown', async (t) => {
  const dir = tempDir('dq-offset-fail');
  const { logger, lines } = recordingLogger();
  const { queue } = await open(dir, { logger });
  const written = await fill(queue, 0, 3);
  // A directory where the offset's temporary file goes: writing it fails (as on a full or failing disk).
  mkdirSync(join(dir, 'offset.tmp'));
  t.doesNotThrow(() => queue.ack(written[0]!.seq), 'an acknowledgement does not throw');
  t.doesNotThrow(() => queue.ack(written[1]!.seq));
  t.equal(lines.filter((l) => /cannot write the disk queue offset/.test(String(l.msg))).length, 1, 'logged once, not per acknowledgement');
  rmdirSync(join(dir, 'offset.tmp'));
  t.notOk(readdirSync(dir).includes('offset'), 'no offset file was written');
  t.ok(await waitFor(async () => readdirSync(dir).includes('offset') && committedOf(dir) === 3, 5000, 20), 'the next sync writes the offset');
  t.ok(lines.some((l) => /offset is written again/.test(String(l.msg))));
  mkdirSync(join(dir, 'offset.tmp'));
  await t.resolves(queue.close(), 'closing with an unwritable offset file does not throw');
  t.notOk(readdirSync(dir).includes('lock'), 'and releases the lock');
});

function lockOf(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'lock'), 'utf8')) as Record<string, unknown>;
}

/** A lock as this version writes it, for a holder in this pid namespace unless told otherwise. */
function writeLock(dir: string, holder: { pid: number; host?: string; boot_id?: string; pid_ns?: string }): void {
  const here = { host: hostname(), boot_id: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), pid_ns: readlinkSync('/proc/self/ns/pid') };
  writeFileSync(join(dir, 'lock'), `${JSON.stringify({ ...here, nonce: 'someone-else', ...holder })}\n`);
}

t.test("one process per queue directory; a dead owner's lock is taken over", async (t) => {
  const dir = tempDir('dq-lock');
  const sleeper = spawn('sleep', ['30']);
  t.teardown(() => sleeper.kill());
  writeLock(dir, { pid: sleeper.pid! });
  await t.rejects(open(dir), /in use by process \d+ .*is running/, 'a live process holds it');
  writeFileSync(join(dir, 'lock'), `${sleeper.pid}\n`);
  await t.rejects(open(dir), /in use by process \d+/, 'also when an earlier version wrote the lock (the pid alone)');

  const dead = spawn('true');
  await new Promise((r) => dead.once('close', r));
  writeLock(dir, { pid: dead.pid! });
  const { queue } = await open(dir);
  t.equal(lockOf(dir).pid, process.pid, 'the lock now names this process');
  await t.rejects(open(dir), /already open in this process/, 'a second open in this process is refused too');
  await queue.close();
  t.notOk(readdirSync(dir).includes('lock'), 'closing releases it');

  writeLock(dir, { pid: sleeper.pid!, boot_id: 'an-earlier-boot' });
  const { queue: afterReboot } = await open(dir);
  t.equal(lockOf(dir).pid, process.pid, 'a lock taken before this host last booted is taken over at once');
  await afterReboot.close();
});

t.test('a lock from another container is refused while its holder keeps it fresh, and taken over once it is stale', async (t) => {
  const lock: QueueLockTiming = { refreshMs: 40, staleMs: 400 };
  const dir = tempDir('dq-lock-container');
  // Pid 1 in another pid namespace: nothing here can tell whether it runs, and our own pid 1 is someone else.
  writeLock(dir, { pid: 1, pid_ns: 'pid:[1]' });
  const keepFresh = setInterval(() => utimesSync(join(dir, 'lock'), new Date(), new Date()), 40);
  await t.rejects(open(dir, { lock }), /in use by process 1 .*keeps its lock fresh/, 'a holder that refreshes the lock is alive');
  clearInterval(keepFresh);

  const { logger, lines } = recordingLogger();
  const { queue } = await open(dir, { lock, logger });
  t.equal(lockOf(dir).pid, process.pid, 'once it stopped refreshing, the lock is taken over');
  t.ok(lines.some((l) => /cannot check/.test(String(l.msg))) && lines.some((l) => /took over/.test(String(l.msg))), 'after waiting, logged');
  const before = statSync(join(dir, 'lock')).mtimeMs;
  t.ok(await waitFor(async () => statSync(join(dir, 'lock')).mtimeMs > before, 2000, 20), 'the new holder refreshes it');
  await queue.close();
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

t.test('acknowledgements above a held record survive reopening: only the held record replays', async (t) => {
  const dir = tempDir('dq-held-acks');
  const { queue } = await open(dir);
  // More than a compaction's worth: the acks file is both appended to and rewritten on the way.
  const written = await fill(queue, 0, 1000);
  for (const r of written.slice(1)) queue.ack(r.seq);
  await queue.close();
  t.equal(committedOf(dir), 1, 'the offset is held by record 1');

  const { queue: again, replay } = await open(dir);
  t.same(
    replay.records.map((r) => r.seq),
    [1],
    'only the held record replays',
  );
  t.equal(replay.missingSeqs, 0, 'the acknowledged numbers are not counted missing');
  t.same(await again.read(replay.records[0]!), payloadOf(0));
  again.ack(1);
  await again.close();
  t.equal(committedOf(dir), 1001);
  const { queue: third, replay: none } = await open(dir);
  t.teardown(() => third.close());
  t.same(none.records, [], 'nothing replays once the held record is acknowledged too');
  t.equal((await third.append(1, 'next', Buffer.from('x'))).seq, 1001);
});

const diskBytesOf = (dir: string) => segments(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

t.test('a held head record keeps the disk bounded: fully acknowledged segments go, the held record is moved aside', async (t) => {
  const dir = tempDir('dq-bounded');
  const segmentBytes = 4096;
  const { queue } = await open(dir, { segmentBytes });
  const head = await queue.append(1, 'token-head', payloadOf(3));
  const firstSegment = head.segment;
  let maxFrame = head.length;
  let worst = 0;
  // Readers of the held record all along, racing with its moves: none may count it as damaged.
  let writing = true;
  const readers = Array.from({ length: 8 }, async () => {
    const payloads: Buffer[] = [];
    while (writing) payloads.push(await queue.read(head));
    return payloads;
  });
  for (let i = 1; i < 200; i++) {
    const r = await queue.append(1, `token-${i}`, Buffer.alloc(700, i));
    maxFrame = Math.max(maxFrame, r.length);
    const bound = 2 * (head.length + r.length) + segmentBytes + maxFrame;
    const used = diskBytesOf(dir);
    worst = Math.max(worst, used - bound);
    queue.ack(r.seq);
  }
  writing = false;
  const payloads = (await Promise.all(readers)).flat();
  t.ok(worst <= 0, `the segment files stayed within 2 × live bytes + segment_size + one write (worst margin ${worst} bytes)`);
  t.not(head.segment, firstSegment, 'the held record was moved out of its first segment');
  t.notOk(segments(dir).includes(segmentName(firstSegment)), 'and that segment is deleted');
  t.ok(payloads.length > 0 && payloads.every((p) => p.equals(payloadOf(3))), `all ${payloads.length} reads of the held record, moved or not, got its payload`);
  t.same(queue.usage.liveBytes, head.length, 'only the held record is live');
  await queue.close();

  const { queue: again, replay } = await open(dir, { segmentBytes });
  t.teardown(() => again.close());
  t.same(
    replay.records.map((r) => [r.seq, r.token]),
    [[1, 'token-head']],
    'after reopening, the moved record replays with its number and token',
  );
  t.same(await again.read(replay.records[0]!), payloadOf(3), 'and its payload intact');
  t.equal(replay.damagedRegions, 0);
});

t.test('a crash between copying a record aside and deleting the original replays it once', async (t) => {
  const dir = tempDir('dq-move-crash');
  const { queue } = await open(dir, { segmentBytes: 4096 });
  const written: StoredRecord[] = [];
  for (let i = 0; i < 12; i++) written.push(await queue.append(1, `t${i}`, Buffer.alloc(700, i)));
  await queue.close();
  // The original segment, with a copy of record 1 appended to a later one, as a move leaves them.
  const original = readFileSync(join(dir, segmentName(written[0]!.segment)));
  const frame = original.subarray(written[0]!.offset, written[0]!.offset + written[0]!.length);
  writeFileSync(join(dir, segmentName(99)), frame);
  const { queue: again, replay } = await open(dir, { segmentBytes: 4096 });
  t.teardown(() => again.close());
  t.same(
    replay.records.map((r) => r.seq),
    written.map((r) => r.seq),
    'each number replays once',
  );
  t.equal(replay.records[0]!.segment, 99, 'record 1 from its copy');
  t.same(await again.read(replay.records[0]!), Buffer.alloc(700, 0));
});

function segmentName(n: number): string {
  return `${String(n).padStart(10, '0')}.seg`;
}

const cannotMount = tmpfsUnavailable();

t.test('a full volume: writes are refused, and once the exported records are reclaimed the queue writes again without reopening', { skip: cannotMount ?? false }, async (t) => {
  const volume = tempDir('dq-enospc');
  t.equal(mountTmpfs(volume, '2m'), undefined, 'a 2 MiB tmpfs is mounted');
  t.teardown(() => unmount(volume));
  const dir = join(volume, 'queue');
  // The default segment size, far larger than the volume: the active segment is what fills it.
  const { queue } = await open(dir, { segmentBytes: 64 << 20 });
  const stored: StoredRecord[] = [];
  let refusal: unknown;
  for (let i = 0; i < 1000 && !refusal; i++) {
    try {
      stored.push(await queue.append(1, `t${i}`, Buffer.alloc(16 * 1024, i)));
    } catch (err) {
      refusal = err;
    }
  }
  t.ok(stored.length > 50, `${stored.length} records of 16 KiB fit`);
  t.match(refusal, { name: 'BackPressureError', message: /cannot write: .*ENOSPC|short write/ }, 'the next write is refused with back-pressure');
  t.match(queue.writeError, /ENOSPC|short write/, 'the queue says why it cannot write');

  for (const r of stored) queue.ack(r.seq);
  t.same(segments(dir), [], 'once its records are exported, the full segment is deleted at once, although it was the active one');
  const after = await queue.append(1, 'after', Buffer.alloc(16 * 1024, 1));
  t.ok(after.segment > stored[0]!.segment, 'once the records are exported, the next write goes to a fresh segment');
  t.equal(queue.writeError, undefined, 'and the write error is cleared');
  t.same(segments(dir), [segmentName(after.segment)]);
  t.same(await queue.read(after), Buffer.alloc(16 * 1024, 1));
  await queue.close();
  const { queue: again, replay } = await open(dir);
  t.same(
    replay.records.map((r) => r.token),
    ['after'],
    'only the record written after recovering replays',
  );
  await again.close();
});
