import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { BackPressureError, errorMessage } from './errors.js';
import { QueueLock, type QueueLockTiming } from './queue-lock.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface DiskQueueOptions {
  dir: string;
  /** always: a write is synced before append() resolves; interval: every fsyncIntervalMs; never: left to the OS. */
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** A segment is closed and a new one started once it holds this many bytes. */
  segmentBytes: number;
  logger: Logger;
  /** How the directory's lock is kept fresh and when an unchecked holder's lock is stale (defaults: 3 s, 15 s). */
  lock?: QueueLockTiming;
}

/** One queued batch as stored: enough to send it again with the same deduplication token. */
export interface StoredRecord {
  seq: number;
  records: number;
  token: string;
  segment: number;
  /** Where its frame starts in the segment, and the frame's length. */
  offset: number;
  length: number;
}

/** What a queue directory held when it was opened. */
export interface ReplayReport {
  /** Records not yet acknowledged, in the order they were written. */
  records: StoredRecord[];
  /** Damaged stretches skipped (torn tails, bad checksums), each usually one record. */
  damagedRegions: number;
  damagedBytes: number;
  /** Sequence numbers at or above the consumer offset that no intact record carries. */
  missingSeqs: number;
}

/** A stored record that no longer reads back intact. */
export class CorruptRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptRecordError';
  }
}

/*
 * Frame layout (little-endian): magic u32 | body length u32 | CRC-32 of (length, body) u32 | body.
 * Body: kind u8 | seq u48 | records u32 | token length u16 | token | payload.
 * The CRC covers the length field too, so a damaged length is detected rather than followed.
 */
const MAGIC = 0x3151484f; // "OHQ1"
const MAGIC_BYTES = Buffer.from([0x4f, 0x48, 0x51, 0x31]);
const HEADER = 12;
const BODY_PREFIX = 13;
const KIND_BATCH = 1;
const MAX_BODY = 1 << 30;
const SEGMENT_NAME = /^(\d{10})\.seg$/;

interface ParsedFrame {
  seq: number;
  records: number;
  token: string;
  length: number;
  payloadStart: number;
}

function parseFrame(buf: Buffer, off: number): ParsedFrame | undefined {
  if (off + HEADER + BODY_PREFIX > buf.length || buf.readUInt32LE(off) !== MAGIC) return undefined;
  const len = buf.readUInt32LE(off + 4);
  if (len < BODY_PREFIX || len > MAX_BODY || off + HEADER + len > buf.length) return undefined;
  const body = off + HEADER;
  const crc = crc32(buf.subarray(body, body + len), crc32(buf.subarray(off + 4, off + 8)));
  if (crc !== buf.readUInt32LE(off + 8) || buf[body] !== KIND_BATCH) return undefined;
  const tokenLen = buf.readUInt16LE(body + 11);
  if (BODY_PREFIX + tokenLen > len) return undefined;
  return {
    seq: buf.readUIntLE(body + 1, 6),
    records: buf.readUInt32LE(body + 7),
    token: buf.toString('latin1', body + BODY_PREFIX, body + BODY_PREFIX + tokenLen),
    length: HEADER + len,
    payloadStart: body + BODY_PREFIX + tokenLen,
  };
}

function frameHead(seq: number, records: number, token: string, payload: Uint8Array): Buffer {
  const tokenLen = Buffer.byteLength(token, 'latin1');
  const head = Buffer.allocUnsafe(HEADER + BODY_PREFIX + tokenLen);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(BODY_PREFIX + tokenLen + payload.length, 4);
  head[HEADER] = KIND_BATCH;
  head.writeUIntLE(seq, HEADER + 1, 6);
  head.writeUInt32LE(records, HEADER + 7);
  head.writeUInt16LE(tokenLen, HEADER + 11);
  head.write(token, HEADER + BODY_PREFIX, 'latin1');
  head.writeUInt32LE(crc32(payload, crc32(head.subarray(HEADER), crc32(head.subarray(4, 8)))), 8);
  return head;
}

function segmentName(n: number): string {
  return `${String(n).padStart(10, '0')}.seg`;
}

interface Segment {
  n: number;
  /** Highest sequence number written into it (0 if none). */
  lastSeq: number;
}

interface PendingAppend {
  head: Buffer;
  payload: Uint8Array;
  record: StoredRecord;
  resolve: (r: StoredRecord) => void;
  reject: (err: Error) => void;
}

/**
 * A persistent FIFO of export batches: append-only segment files of checksummed frames and a
 * consumer offset (the lowest sequence number not yet acknowledged). Appends are written in
 * groups (one writev, and with `fsync: always` one fdatasync, for all the appends waiting), a
 * segment is deleted once every record in it is acknowledged, and opening the directory replays
 * what was not acknowledged, skipping damaged frames and resuming at the next intact one.
 * Acknowledgements may arrive out of order (several consumers); the offset advances over the
 * acknowledged prefix, so a crash replays at most what was in flight, which the deduplication
 * token makes harmless.
 */
export class DiskQueue {
  private readonly segments = new Map<number, Segment>();
  private readonly acked = new Set<number>();
  private active!: { segment: Segment; fh: FileHandle; size: number; open: boolean };
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private io: Promise<void> = Promise.resolve();
  private dirty = false;
  /** The offset advanced since the offset file was last synced. */
  private offsetDirty = false;
  /** The offset file could not be written; it is retried at the next acknowledgement and sync. */
  private offsetFailing = false;
  /** A failed write may have left bytes that could not be cut off: the next write starts a new segment. */
  private rotateBeforeWrite = false;
  /** A periodic sync in progress; it runs beside the writes, and the segment is not closed under it. */
  private syncing: Promise<void> | undefined;
  private rotating = false;
  private timer: NodeJS.Timeout | undefined;
  /** No more appends once closing; no more acknowledgements once closed. */
  private closing = false;
  private closed = false;

  private constructor(
    private readonly options: DiskQueueOptions,
    private readonly lock: QueueLock,
    /** Lowest sequence number not yet acknowledged. */
    private committed: number,
    private nextSeq: number,
  ) {}

  get dir(): string {
    return this.options.dir;
  }

  /**
   * Opens (or creates) a queue directory, takes its lock, and reports what is to be replayed.
   * Sequence numbers no intact record carries (a damaged record, a deleted segment, an offset
   * file lost with the segments before it) count as acknowledged: nothing will ever acknowledge
   * them, and the offset must move past them.
   */
  static async open(options: DiskQueueOptions): Promise<{ queue: DiskQueue; replay: ReplayReport }> {
    mkdirSync(options.dir, { recursive: true });
    const lock = await QueueLock.take(options.dir, options.logger, options.lock);
    try {
      const stored = readOffset(options.dir, options.logger);
      const scan = scanSegments(options.dir, stored, options.logger);
      const nextSeq = Math.max(stored, scan.maxSeq + 1);
      const records = scan.report.records;
      const queue = new DiskQueue(options, lock, Math.max(stored, records[0]?.seq ?? nextSeq), nextSeq);
      for (let i = 1; i < records.length; i++) {
        for (let seq = records[i - 1]!.seq + 1; seq < records[i]!.seq; seq++) queue.acked.add(seq);
      }
      for (const s of scan.segments) queue.segments.set(s.n, s);
      if (queue.committed !== stored) queue.recordOffset(false);
      queue.deleteAcknowledgedSegments();
      await queue.openSegment(scan.lastSegment + 1);
      if (options.fsync === 'interval') {
        queue.timer = setInterval(() => queue.syncInBackground(), options.fsyncIntervalMs);
        queue.timer.unref();
      }
      return { queue, replay: scan.report };
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /**
   * Writes one batch; resolves once the write reached the OS (and the disk, with fsync: always).
   * A failed write refuses with BackPressureError: the caller keeps the data and tries later.
   */
  append(records: number, token: string, payload: Uint8Array): Promise<StoredRecord> {
    if (this.closing) return Promise.reject(new BackPressureError('the disk queue is closed'));
    const seq = this.nextSeq++;
    const head = frameHead(seq, records, token, payload);
    const record: StoredRecord = { seq, records, token, segment: 0, offset: 0, length: head.length + payload.length };
    return new Promise((resolve, reject) => {
      this.pending.push({ head, payload, record, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        void this.schedule(() => this.flushPending());
      }
    });
  }

  /** The payload of a stored record, checked against its checksum. */
  async read(record: StoredRecord): Promise<Buffer> {
    const fh = await open(join(this.options.dir, segmentName(record.segment)), 'r');
    try {
      const buf = Buffer.allocUnsafe(record.length);
      const { bytesRead } = await fh.read(buf, 0, record.length, record.offset);
      const frame = bytesRead === record.length ? parseFrame(buf, 0) : undefined;
      if (!frame || frame.seq !== record.seq) throw new CorruptRecordError(`queued batch ${record.seq} in segment ${segmentName(record.segment)} no longer reads back intact`);
      return buf.subarray(frame.payloadStart);
    } finally {
      await fh.close();
    }
  }

  /** Marks a record exported (or dead-lettered); it will not be replayed. */
  ack(seq: number): void {
    if (this.closed || seq < this.committed) return;
    this.acked.add(seq);
    if (seq !== this.committed) {
      if (this.offsetFailing) this.recordOffset(false);
      return;
    }
    while (this.acked.delete(this.committed)) this.committed++;
    this.offsetDirty = true;
    this.recordOffset(false);
    this.deleteAcknowledgedSegments();
  }

  /** Writes what is pending, syncs (unless fsync: never), records the offset and releases the lock. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.timer);
    try {
      await this.schedule(async () => {
        await this.flushPending();
        await this.syncing;
        if (this.options.fsync !== 'never') await this.active.fh.datasync();
        await this.active.fh.close();
      });
    } catch (err) {
      this.options.logger.error({ err: errorMessage(err), dir: this.options.dir }, 'closing the disk queue failed; what was not synced may replay or be lost in a power failure');
    } finally {
      this.closed = true;
      this.recordOffset(this.options.fsync !== 'never');
      this.lock.release();
    }
  }

  /**
   * Writes the offset file. A failure (a full or failing disk) is logged once and retried later;
   * until it succeeds a crash replays more than needed, which the deduplication tokens absorb.
   */
  private recordOffset(sync: boolean): void {
    try {
      writeOffset(this.options.dir, this.committed, sync);
    } catch (err) {
      if (!this.offsetFailing) this.options.logger.warn({ err: errorMessage(err), dir: this.options.dir }, 'cannot write the disk queue offset; retrying (after a crash, exported batches would be sent again and deduplicated)');
      this.offsetFailing = true;
      return;
    }
    if (this.offsetFailing) this.options.logger.info({ dir: this.options.dir }, 'the disk queue offset is written again');
    this.offsetFailing = false;
  }

  /** File operations on the active segment run one at a time, in order. */
  private schedule(op: () => Promise<void>): Promise<void> {
    const next = this.io.then(op);
    this.io = next.catch(() => undefined);
    return next;
  }

  private async flushPending(): Promise<void> {
    this.flushScheduled = false;
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    let written = false;
    try {
      if (this.rotateBeforeWrite || this.active.size >= this.options.segmentBytes) await this.rotate();
      const { fh } = this.active;
      const buffers: Uint8Array[] = [];
      let offset = this.active.size;
      for (const p of group) {
        p.record.segment = this.active.segment.n;
        p.record.offset = offset;
        offset += p.record.length;
        buffers.push(p.head, p.payload);
      }
      const total = offset - this.active.size;
      try {
        const { bytesWritten } = await fh.writev(buffers);
        written = bytesWritten > 0;
        if (bytesWritten !== total) throw new Error(`short write (${bytesWritten} of ${total} bytes)`);
        if (this.options.fsync === 'always') await fh.datasync();
      } catch (err) {
        // Cut off what may have been half written, so later frames follow an intact one.
        await fh.truncate(this.active.size).catch(() => (this.rotateBeforeWrite = true));
        throw err;
      }
      this.active.size = offset;
    } catch (err) {
      this.options.logger.error({ err: errorMessage(err), dir: this.options.dir, batches: group.length, partly_written: written }, 'writing to the disk queue failed');
      const refusal = new BackPressureError(`the disk queue cannot write: ${errorMessage(err)}`);
      for (const p of group) p.reject(refusal);
      // Their sequence numbers will never be acknowledged: the offset must not wait for them.
      for (const p of group) this.ack(p.record.seq);
      return;
    }
    this.active.segment.lastSeq = group[group.length - 1]!.record.seq;
    this.dirty = true;
    for (const p of group) p.resolve(p.record);
  }

  /**
   * fsync: interval. The segment's data, then the offset file and the directory (renames), off
   * the event loop and without holding up appends.
   */
  private syncInBackground(): void {
    if (this.offsetFailing) this.recordOffset(false);
    if (this.syncing || this.closing || this.rotating || (!this.dirty && !this.offsetDirty)) return;
    const fh = this.active.fh;
    const data = this.dirty;
    const offset = this.offsetDirty;
    this.dirty = false;
    this.offsetDirty = false;
    this.syncing = (async () => {
      if (data) await fh.datasync();
      if (offset) await fsyncPath(join(this.options.dir, 'offset'));
      if (offset) await fsyncPath(this.options.dir);
    })()
      .catch((err: unknown) => this.options.logger.warn({ err: errorMessage(err), dir: this.options.dir }, 'syncing the disk queue failed'))
      .finally(() => (this.syncing = undefined));
  }

  /** Closes the active segment and opens the next; if opening fails, the next write tries again. */
  private async rotate(): Promise<void> {
    this.rotating = true;
    try {
      await this.syncing;
      if (this.active.open) {
        this.active.open = false;
        try {
          if (this.options.fsync !== 'never') await this.active.fh.datasync();
          this.dirty = false;
        } finally {
          await this.active.fh.close();
        }
      }
      this.rotateBeforeWrite = true;
      await this.openSegment(this.active.segment.n + 1);
      this.rotateBeforeWrite = false;
    } finally {
      this.rotating = false;
    }
    this.deleteAcknowledgedSegments();
  }

  private async openSegment(n: number): Promise<void> {
    const segment: Segment = { n, lastSeq: 0 };
    const fh = await open(join(this.options.dir, segmentName(n)), 'a');
    const { size } = await fh.stat();
    this.segments.set(n, segment);
    this.active = { segment, fh, size, open: true };
    if (this.options.fsync !== 'never') await fsyncPath(this.options.dir);
  }

  private deleteAcknowledgedSegments(): void {
    for (const s of this.segments.values()) {
      if (s === this.active?.segment || s.lastSeq >= this.committed) continue;
      this.segments.delete(s.n);
      try {
        unlinkSync(join(this.options.dir, segmentName(s.n)));
      } catch (err) {
        this.options.logger.warn({ err: errorMessage(err), segment: segmentName(s.n) }, 'cannot delete an exported queue segment');
      }
    }
  }
}

/** Reads every segment, keeping the intact frames at or after the offset and skipping damaged stretches. */
function scanSegments(dir: string, committed: number, logger: Logger): { segments: Segment[]; lastSegment: number; maxSeq: number; report: ReplayReport } {
  const numbers = readdirSync(dir)
    .map((f) => SEGMENT_NAME.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const report: ReplayReport = { records: [], damagedRegions: 0, damagedBytes: 0, missingSeqs: 0 };
  const segments: Segment[] = [];
  let maxSeq = 0;
  for (const n of numbers) {
    const buf = readFileSync(join(dir, segmentName(n)));
    const segment: Segment = { n, lastSeq: 0 };
    let off = 0;
    while (off < buf.length) {
      const frame = parseFrame(buf, off);
      if (frame) {
        segment.lastSeq = Math.max(segment.lastSeq, frame.seq);
        if (frame.seq >= committed) report.records.push({ seq: frame.seq, records: frame.records, token: frame.token, segment: n, offset: off, length: frame.length });
        off += frame.length;
        continue;
      }
      const resume = nextIntactFrame(buf, off + 1);
      report.damagedRegions++;
      report.damagedBytes += resume - off;
      logger.warn({ segment: segmentName(n), offset: off, bytes: resume - off }, 'skipping a damaged stretch of the disk queue (torn or corrupted record)');
      off = resume;
    }
    maxSeq = Math.max(maxSeq, segment.lastSeq);
    segments.push(segment);
  }
  report.records.sort((a, b) => a.seq - b.seq);
  let expected = committed;
  for (const r of report.records) {
    if (r.seq > expected) report.missingSeqs += r.seq - expected;
    expected = r.seq + 1;
  }
  return { segments, lastSegment: numbers.at(-1) ?? 0, maxSeq, report };
}

function nextIntactFrame(buf: Buffer, from: number): number {
  for (let at = buf.indexOf(MAGIC_BYTES, from); at >= 0; at = buf.indexOf(MAGIC_BYTES, at + 1)) {
    if (parseFrame(buf, at)) return at;
  }
  return buf.length;
}

function readOffset(dir: string, logger: Logger): number {
  let text: string;
  try {
    text = readFileSync(join(dir, 'offset'), 'utf8');
  } catch {
    return 1;
  }
  let committed: unknown;
  try {
    committed = (JSON.parse(text) as { committed?: unknown }).committed;
  } catch {
    committed = undefined;
  }
  if (typeof committed === 'number' && Number.isSafeInteger(committed) && committed >= 1) return committed;
  logger.warn({ dir }, 'the disk queue offset file is unreadable; replaying every stored record (deduplication tokens keep them from being stored twice)');
  return 1;
}

/** Replaces the offset file atomically (write, then rename). */
function writeOffset(dir: string, committed: number, sync: boolean): void {
  const tmp = join(dir, 'offset.tmp');
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `{"committed":${committed}}\n`);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, 'offset'));
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
