import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { BackPressureError, errorMessage } from '../pipeline/errors.js';
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
  /**
   * Where its frame is: a segment, the frame's start in it, and its length. Moving a record aside
   * updates these in place.
   */
  segment: number;
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
  /**
   * Sequence numbers at or above the consumer offset that neither an intact record carries nor an
   * acknowledgement names.
   */
  missingSeqs: number;
}

/** A stored record that no longer reads back intact. */
export class CorruptRecordError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CorruptRecordError';
  }
}

/** A write to the disk queue that did not complete (a full or failing disk). */
export class DiskQueueWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiskQueueWriteError';
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
  /** Bytes in its file. */
  bytes: number;
  /** Its records not yet acknowledged. */
  live: Set<StoredRecord>;
  liveBytes: number;
  /** Its live records are being copied to the active segment; it is deleted once they are. */
  moving: boolean;
}

interface PendingAppend {
  head: Buffer;
  payload: Uint8Array;
  record: StoredRecord;
  resolve: (r: StoredRecord) => void;
  reject: (err: Error) => void;
}

/** A compaction rewrites the acks file once it holds this many entries more than twice the live records. */
const ACK_COMPACTION_SLACK = 256;

/**
 * A persistent FIFO of export batches: append-only segment files of checksummed frames, a
 * consumer offset (the lowest sequence number not yet acknowledged) and an acks file for what is
 * acknowledged above it. Appends are written in groups (one writev, and with `fsync: always` one
 * fdatasync, for all the appends waiting); opening the directory replays what was not
 * acknowledged, skipping damaged frames and resuming at the next intact one.
 *
 * Acknowledgements arrive out of order (several consumers, a batch retried for minutes while
 * later ones are exported). In order, they only move the offset; above it, each is appended to
 * the acks file, so a restart replays only what was not exported, however long the head batch
 * is held. The acks file is compacted into one snapshot line ("below W, only these sequence
 * numbers are live") when it outgrows the live records, so it stays proportional to the queue.
 *
 * Disk bound: a segment is deleted as soon as none of its records is live, wherever it is; and
 * when the segment files hold more than 2 × the live bytes + segment_size, the closed segments
 * that are at most half live have their live records moved aside (copied, same sequence number
 * and token, to the active segment; the StoredRecord updated in place; the old file deleted).
 * Every closed segment left is then more than half live, so the files hold at most
 * 2 × live bytes + one active segment (segment_size plus the last write group). Live bytes are
 * bounded by the exporter's max_bytes / queue_size.
 *
 * A failed write (ENOSPC, EIO, a file size limit) retires the active segment: the next write
 * starts a fresh one, and the retired one is deleted once its records are exported, so a full
 * volume recovers by itself as the queue drains.
 */
export class DiskQueue {
  private readonly segments = new Map<number, Segment>();
  /** Records written and not acknowledged, in sequence order (the first is the lowest). */
  private readonly live = new Map<number, StoredRecord>();
  /** Sequence numbers handed out whose write has not finished, in order. */
  private readonly unwritten = new Set<number>();
  private liveBytes = 0;
  private diskBytes = 0;
  /** Bytes that moves under way will free. */
  private movingFree = 0;
  /** A move failed: no more are tried until the next append tries the disk again. */
  private movesHeld = false;
  /** Moves have failed since one last succeeded (logged once). */
  private movesFailing = false;
  private active!: { segment: Segment; fh: FileHandle; open: boolean };
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private io: Promise<void> = Promise.resolve();
  private dirty = false;
  /** The offset advanced (or the acks file was replaced) since the directory was last synced. */
  private offsetDirty = false;
  /** The offset file could not be written; it is retried at the next acknowledgement and sync. */
  private offsetFailing = false;
  /** The active segment took a failed write (or is being replaced): the next write starts a new segment. */
  private rotateBeforeWrite = false;
  /** Why the last write failed, until a write succeeds. */
  private lastWriteError: string | undefined;
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
    private readonly acks: AckLog,
    /** Lowest sequence number not yet acknowledged. */
    private committed: number,
    private nextSeq: number,
  ) {}

  get dir(): string {
    return this.options.dir;
  }

  /** Why the queue cannot write, while it cannot (cleared by the next successful write). */
  get writeError(): string | undefined {
    return this.lastWriteError;
  }

  /** Bytes in the segment files, and of the records in them not yet acknowledged. */
  get usage(): { diskBytes: number; liveBytes: number } {
    return { diskBytes: this.diskBytes, liveBytes: this.liveBytes };
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
      const acked = readAcks(options.dir, options.logger);
      const scan = scanSegments(options.dir, stored, acked, options.logger);
      const nextSeq = Math.max(stored, scan.maxSeq + 1, acked.below, acked.maxAcked + 1);
      const records = scan.report.records;
      const acks = new AckLog(options.dir, options.logger);
      const queue = new DiskQueue(options, lock, acks, Math.max(stored, records[0]?.seq ?? nextSeq), nextSeq);
      for (const r of records) queue.live.set(r.seq, r);
      for (const s of scan.segments) {
        queue.segments.set(s.n, s);
        queue.diskBytes += s.bytes;
        queue.liveBytes += s.liveBytes;
      }
      if (queue.committed !== stored) queue.recordOffset(false);
      if (acked.present) queue.compactAcks();
      await queue.openSegment(scan.lastSegment + 1);
      queue.reclaim();
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
   * What a queue directory holds that was not exported, read without taking its lock (for a
   * directory no exporter uses any more).
   */
  static inspect(dir: string, logger: Logger): { batches: number; records: number } {
    const quiet = logger.child({}, { level: 'silent' });
    const stored = readOffset(dir, quiet);
    const { report } = scanSegments(dir, stored, readAcks(dir, quiet), quiet);
    return { batches: report.records.length, records: report.records.reduce((n, r) => n + r.records, 0) };
  }

  /**
   * Writes one batch; resolves once the write reached the OS (and the disk, with fsync: always).
   * A failed write refuses with BackPressureError: the caller keeps the data and tries later.
   */
  append(records: number, token: string, payload: Uint8Array): Promise<StoredRecord> {
    if (this.closing) return Promise.reject(new BackPressureError('the disk queue is closed'));
    const seq = this.nextSeq++;
    this.unwritten.add(seq);
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

  /**
   * The payload of a stored record, checked against its checksum. A record moved aside while it
   * is read is read again where it went: the old file may be gone by the time it is opened.
   */
  async read(record: StoredRecord): Promise<Buffer> {
    for (;;) {
      const { segment, offset, length } = record;
      let fh: FileHandle;
      try {
        fh = await open(join(this.options.dir, segmentName(segment)), 'r');
      } catch (err) {
        if (record.segment !== segment) continue;
        throw new CorruptRecordError(
          `queued batch ${record.seq}: segment ${segmentName(segment)} cannot be read (${errorMessage(err)})`,
          { cause: err },
        );
      }
      try {
        const buf = Buffer.allocUnsafe(length);
        const { bytesRead } = await fh.read(buf, 0, length, offset);
        const frame = bytesRead === length ? parseFrame(buf, 0) : undefined;
        if (frame && frame.seq === record.seq) return buf.subarray(frame.payloadStart);
        if (record.segment !== segment) continue;
        throw new CorruptRecordError(
          `queued batch ${record.seq} in segment ${segmentName(segment)} no longer reads back intact`,
        );
      } finally {
        await fh.close();
      }
    }
  }

  /** Marks a record exported (or dead-lettered); it will not be replayed. */
  ack(seq: number): void {
    if (this.closed) return;
    const record = this.live.get(seq);
    if (record) {
      this.live.delete(seq);
      this.liveBytes -= record.length;
      const segment = this.segments.get(record.segment);
      if (segment) {
        segment.live.delete(record);
        segment.liveBytes -= record.length;
        // Before the offset and acks files: on a full disk, those writes need the space.
        this.deleteIfEmpty(segment);
      }
    } else if (!this.unwritten.delete(seq)) {
      return;
    }
    this.advanceOffset();
    if (seq >= this.committed) this.recordAck(seq);
    this.moveAsideIfOverBound();
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
      this.options.logger.error(
        { err: errorMessage(err), dir: this.options.dir },
        'closing the disk queue failed; what was not synced may replay or be lost in a power failure',
      );
    } finally {
      this.closed = true;
      const sync = this.options.fsync !== 'never';
      this.recordOffset(sync);
      if (this.acks.failing) this.compactAcks();
      this.acks.close(sync);
      this.lock.release();
    }
  }

  private advanceOffset(): void {
    const floor = Math.min(
      first(this.live.keys()) ?? Infinity,
      first(this.unwritten.values()) ?? Infinity,
      this.nextSeq,
    );
    if (floor > this.committed) {
      this.committed = floor;
      this.offsetDirty = true;
      this.recordOffset(false);
    } else if (this.offsetFailing) {
      this.recordOffset(false);
    }
  }

  /** An acknowledgement above the offset: appended, or folded into a snapshot when the file has grown (or failed). */
  private recordAck(seq: number): void {
    if (this.acks.failing || this.acks.entries >= ACK_COMPACTION_SLACK + 2 * (this.live.size + this.unwritten.size))
      this.compactAcks();
    else this.acks.append(seq);
  }

  /** Replaces the acks file by one line: below nextSeq, only the live (and unwritten) numbers are not acknowledged. */
  private compactAcks(): void {
    if (this.acks.rewrite(this.nextSeq, [...this.live.keys(), ...this.unwritten], this.options.fsync !== 'never'))
      this.offsetDirty = true;
  }

  /**
   * Writes the offset file. A failure (a full or failing disk) is logged once and retried later;
   * until it succeeds a crash replays more than needed, which the deduplication tokens absorb.
   */
  private recordOffset(sync: boolean): void {
    try {
      writeOffset(this.options.dir, this.committed, sync);
    } catch (err) {
      if (!this.offsetFailing)
        this.options.logger.warn(
          { err: errorMessage(err), dir: this.options.dir },
          'cannot write the disk queue offset; retrying (after a crash, ' +
            'exported batches would be sent again and deduplicated)',
        );
      this.offsetFailing = true;
      return;
    }
    if (this.offsetFailing)
      this.options.logger.info({ dir: this.options.dir }, 'the disk queue offset is written again');
    this.offsetFailing = false;
  }

  /** File operations on the active segment run one at a time, in order. */
  private schedule(op: () => Promise<void>): Promise<void> {
    const next = this.io.then(op);
    this.io = next.catch(() => undefined);
    return next;
  }

  /**
   * Appends frames to the active segment (a fresh one if it is full or retired) and returns where
   * they start. A failed write cuts off what it may have half written and retires the segment.
   */
  private async writeFrames(buffers: Uint8Array[], total: number): Promise<{ segment: Segment; at: number }> {
    try {
      if (this.rotateBeforeWrite || this.active.segment.bytes >= this.options.segmentBytes) await this.rotate();
    } catch (err) {
      this.lastWriteError = errorMessage(err);
      throw err;
    }
    const { fh, segment } = this.active;
    const at = segment.bytes;
    try {
      const { bytesWritten } = await fh.writev(buffers);
      if (bytesWritten !== total) throw new DiskQueueWriteError(`short write (${bytesWritten} of ${total} bytes)`);
      if (this.options.fsync === 'always') await fh.datasync();
    } catch (err) {
      await fh.truncate(at).catch(() => undefined);
      this.rotateBeforeWrite = true;
      this.lastWriteError = errorMessage(err);
      throw err;
    }
    segment.bytes += total;
    this.diskBytes += total;
    this.dirty = true;
    this.lastWriteError = undefined;
    return { segment, at };
  }

  private async flushPending(): Promise<void> {
    this.flushScheduled = false;
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    if (this.movesHeld) {
      // Moved after this write: on a full disk, a small move may fit where this group does not.
      this.movesHeld = false;
      this.moveAsideIfOverBound();
    }
    const buffers: Uint8Array[] = [];
    let total = 0;
    for (const p of group) {
      buffers.push(p.head, p.payload);
      total += p.record.length;
    }
    let placed: { segment: Segment; at: number };
    try {
      placed = await this.writeFrames(buffers, total);
    } catch (err) {
      this.options.logger.error(
        { err: errorMessage(err), dir: this.options.dir, batches: group.length },
        'writing to the disk queue failed',
      );
      const refusal = new BackPressureError(`the disk queue cannot write: ${errorMessage(err)}`);
      for (const p of group) p.reject(refusal);
      // Their sequence numbers will never be acknowledged: the offset must not wait for them.
      for (const p of group) this.ack(p.record.seq);
      this.reclaim();
      return;
    }
    let offset = placed.at;
    for (const { record } of group) {
      record.segment = placed.segment.n;
      record.offset = offset;
      offset += record.length;
      this.unwritten.delete(record.seq);
      this.live.set(record.seq, record);
      placed.segment.live.add(record);
      placed.segment.liveBytes += record.length;
      this.liveBytes += record.length;
    }
    for (const p of group) p.resolve(p.record);
  }

  /**
   * fsync: interval. The segment's data, the acks file, then the offset file and the directory
   * (renames), off the event loop and without holding up appends.
   */
  private syncInBackground(): void {
    if (this.offsetFailing) this.recordOffset(false);
    if (this.acks.failing) this.compactAcks();
    if (this.syncing || this.closing || this.rotating || (!this.dirty && !this.offsetDirty && !this.acks.dirty)) return;
    const fh = this.active.fh;
    const data = this.dirty;
    const offset = this.offsetDirty;
    const acks = this.acks.dirty;
    this.dirty = false;
    this.offsetDirty = false;
    this.acks.dirty = false;
    this.syncing = (async () => {
      if (data) await fh.datasync();
      if (acks) await fsyncPath(join(this.options.dir, ACKS_FILE));
      if (offset) await fsyncPath(join(this.options.dir, 'offset'));
      if (offset) await fsyncPath(this.options.dir);
    })()
      .catch((err: unknown) =>
        this.options.logger.warn({ err: errorMessage(err), dir: this.options.dir }, 'syncing the disk queue failed'),
      )
      .finally(() => (this.syncing = undefined));
  }

  /** Closes the active segment and opens the next; if opening fails, the next write tries again. */
  private async rotate(): Promise<void> {
    this.rotating = true;
    try {
      await this.syncing;
      this.rotateBeforeWrite = true;
      if (this.active.open) {
        this.active.open = false;
        try {
          if (this.options.fsync !== 'never') await this.active.fh.datasync();
          this.dirty = false;
        } finally {
          await this.active.fh.close();
        }
      }
      await this.openSegment(this.active.segment.n + 1);
      this.rotateBeforeWrite = false;
    } finally {
      this.rotating = false;
    }
    this.reclaim();
  }

  private async openSegment(n: number): Promise<void> {
    const fh = await open(join(this.options.dir, segmentName(n)), 'a');
    const { size } = await fh.stat();
    const segment: Segment = { n, bytes: size, live: new Set(), liveBytes: 0, moving: false };
    this.segments.set(n, segment);
    this.diskBytes += size;
    this.active = { segment, fh, open: true };
    if (this.options.fsync !== 'never') await fsyncPath(this.options.dir);
  }

  /** Deletes every segment without live records, then moves records aside if the files outgrow the bound. */
  private reclaim(): void {
    for (const s of [...this.segments.values()]) this.deleteIfEmpty(s);
    this.moveAsideIfOverBound();
  }

  /** The active segment only once retired: until then the next write goes there. */
  private deleteIfEmpty(s: Segment): void {
    if (s.live.size > 0 || s.moving || (s === this.active?.segment && !this.rotateBeforeWrite)) return;
    this.segments.delete(s.n);
    this.diskBytes -= s.bytes;
    try {
      unlinkSync(join(this.options.dir, segmentName(s.n)));
    } catch (err) {
      this.options.logger.warn(
        { err: errorMessage(err), segment: segmentName(s.n) },
        'cannot delete an exported queue segment',
      );
    }
  }

  /** Sparsest first, until what the moves will free brings the files within 2 × live bytes + segment_size. */
  private moveAsideIfOverBound(): void {
    const limit = 2 * this.liveBytes + this.options.segmentBytes;
    let projected = this.diskBytes - this.movingFree;
    if (this.closing || this.movesHeld || projected <= limit) return;
    const sparse = [...this.segments.values()]
      .filter((s) => s !== this.active.segment && !s.moving && s.liveBytes * 2 <= s.bytes)
      .sort((a, b) => a.liveBytes / a.bytes - b.liveBytes / b.bytes);
    for (const s of sparse) {
      if (projected <= limit) return;
      projected -= s.bytes - s.liveBytes;
      this.moveAside(s);
    }
  }

  private moveAside(s: Segment): void {
    const frees = s.bytes - s.liveBytes;
    s.moving = true;
    this.movingFree += frees;
    void this.schedule(() => this.move(s))
      .then(
        () => (this.movesFailing = false),
        (err: unknown) => {
          if (!this.movesFailing)
            this.options.logger.warn(
              { err: errorMessage(err), segment: segmentName(s.n), live_bytes: s.liveBytes },
              'cannot move the live records of a queue segment aside; trying again after the next append',
            );
          this.movesFailing = true;
          this.movesHeld = true;
        },
      )
      .finally(() => {
        s.moving = false;
        this.movingFree -= frees;
        if (this.segments.has(s.n)) this.deleteIfEmpty(s);
      });
  }

  /**
   * Copies a segment's live frames, byte for byte, to the active segment. The copy is synced
   * (unless fsync: never) before the records point at it and the old file is deleted: a crash in
   * between leaves two copies of a record, and replay keeps the later one.
   */
  private async move(s: Segment): Promise<void> {
    if (this.closing || !this.segments.has(s.n)) return;
    const records = [...s.live].sort((a, b) => a.offset - b.offset);
    if (records.length === 0) return;
    const frames: Buffer[] = [];
    let total = 0;
    const fh = await open(join(this.options.dir, segmentName(s.n)), 'r');
    try {
      for (const r of records) {
        const buf = Buffer.allocUnsafe(r.length);
        const { bytesRead } = await fh.read(buf, 0, r.length, r.offset);
        if (bytesRead !== r.length)
          throw new CorruptRecordError(`queued batch ${r.seq} in segment ${segmentName(s.n)} is cut short`);
        frames.push(buf);
        total += r.length;
      }
    } finally {
      await fh.close();
    }
    const placed = await this.writeFrames(frames, total);
    if (this.options.fsync === 'interval') await this.active.fh.datasync();
    let offset = placed.at;
    for (const r of records) {
      // One acknowledged meanwhile stays acknowledged; its copy is dead bytes in the new segment.
      if (s.live.delete(r)) {
        s.liveBytes -= r.length;
        r.segment = placed.segment.n;
        r.offset = offset;
        placed.segment.live.add(r);
        placed.segment.liveBytes += r.length;
      }
      offset += r.length;
    }
  }
}

function first<T>(it: Iterator<T>): T | undefined {
  const r = it.next();
  return r.done ? undefined : r.value;
}

const ACKS_FILE = 'acks';

/**
 * What the acks file says: below `below`, every number not in `liveBelow` is acknowledged (the
 * last compaction's snapshot); and each number in `acked` is (appended since).
 */
interface AckState {
  present: boolean;
  below: number;
  liveBelow: Set<number>;
  acked: Set<number>;
  maxAcked: number;
}

function isAcked(state: AckState, seq: number): boolean {
  return (seq < state.below && !state.liveBelow.has(seq)) || state.acked.has(seq);
}

/**
 * One line of the acks file: the entry, a space, its CRC-32 in hex (a torn or damaged line is
 * skipped, never misread).
 */
function ackLine(entry: string): string {
  return `${entry} ${crc32(entry).toString(16)}\n`;
}

function readAcks(dir: string, logger: Logger): AckState {
  const state: AckState = { present: false, below: 0, liveBelow: new Set(), acked: new Set(), maxAcked: 0 };
  let text: string;
  try {
    text = readFileSync(join(dir, ACKS_FILE), 'latin1');
  } catch {
    return state;
  }
  state.present = true;
  let damaged = 0;
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line === '') continue;
    const space = line.lastIndexOf(' ');
    const entry = line.slice(0, space);
    if (space < 0 || crc32(entry).toString(16) !== line.slice(space + 1)) {
      damaged++;
      continue;
    }
    const [kind, n, list] = entry.split(' ');
    const seq = Number(n);
    if (!Number.isSafeInteger(seq) || seq < 1) {
      damaged++;
    } else if (kind === 's' && i === 0) {
      state.below = seq;
      for (const s of list ? list.split(',') : []) state.liveBelow.add(Number(s));
    } else if (kind === 'a') {
      state.acked.add(seq);
      state.maxAcked = Math.max(state.maxAcked, seq);
    } else {
      damaged++;
    }
  }
  if (damaged > 0)
    logger.warn(
      { dir, entries: damaged },
      'skipping damaged entries of the disk queue acks file; the ' +
        'batches they acknowledged replay (deduplicated by their tokens)',
    );
  return state;
}

/** The acks file: acknowledgements above the offset, appended; replaced by a snapshot when compacted. */
class AckLog {
  private fd: number | undefined;
  /** Lines appended since the last snapshot. */
  entries = 0;
  /** Appended or replaced since the last sync. */
  dirty = false;
  /** The last write failed: the next acknowledgement writes a snapshot, which holds every earlier one. */
  failing = false;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  append(seq: number): void {
    try {
      this.fd ??= openSync(join(this.dir, ACKS_FILE), 'a');
      writeSync(this.fd, ackLine(`a ${seq}`));
      this.entries++;
      this.dirty = true;
    } catch (err) {
      this.fail(err);
    }
  }

  /** Writes the snapshot to a temporary file and renames it over the acks file; false if that failed. */
  rewrite(below: number, live: number[], sync: boolean): boolean {
    const path = join(this.dir, ACKS_FILE);
    const tmp = `${path}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, ackLine(live.length > 0 ? `s ${below} ${live.join(',')}` : `s ${below}`));
        if (sync) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (err) {
      this.fail(err);
      return false;
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.entries = 0;
    this.dirty = !sync;
    if (this.failing) this.logger.info({ dir: this.dir }, 'the disk queue acks file is written again');
    this.failing = false;
    return true;
  }

  close(sync: boolean): void {
    if (this.fd === undefined) return;
    try {
      if (sync && this.dirty) fsyncSync(this.fd);
    } catch (err) {
      this.logger.warn(
        { err: errorMessage(err), dir: this.dir },
        'syncing the disk queue acks file failed; exported batches may replay after a power failure (deduplicated)',
      );
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private fail(err: unknown): void {
    if (!this.failing)
      this.logger.warn(
        { err: errorMessage(err), dir: this.dir },
        'cannot write the disk queue acks file; retrying (after a crash, ' +
          'batches exported out of order would be sent again and deduplicated)',
      );
    this.failing = true;
  }
}

/**
 * Reads every segment, keeping the intact frames at or after the offset that no acknowledgement
 * names, and skipping damaged stretches. A number found twice (a crash while a record was being
 * moved aside) is taken from the later segment.
 */
function scanSegments(
  dir: string,
  committed: number,
  acked: AckState,
  logger: Logger,
): { segments: Segment[]; lastSegment: number; maxSeq: number; report: ReplayReport } {
  const numbers = readdirSync(dir)
    .map((f) => SEGMENT_NAME.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const report: ReplayReport = { records: [], damagedRegions: 0, damagedBytes: 0, missingSeqs: 0 };
  const segments = new Map<number, Segment>();
  const found = new Map<number, StoredRecord>();
  const intact = new Set<number>();
  let maxSeq = 0;
  for (const n of numbers) {
    const buf = readFileSync(join(dir, segmentName(n)));
    segments.set(n, { n, bytes: buf.length, live: new Set(), liveBytes: 0, moving: false });
    let off = 0;
    while (off < buf.length) {
      const frame = parseFrame(buf, off);
      if (frame) {
        maxSeq = Math.max(maxSeq, frame.seq);
        if (frame.seq >= committed) {
          intact.add(frame.seq);
          if (!isAcked(acked, frame.seq))
            found.set(frame.seq, {
              seq: frame.seq,
              records: frame.records,
              token: frame.token,
              segment: n,
              offset: off,
              length: frame.length,
            });
        }
        off += frame.length;
        continue;
      }
      const resume = nextIntactFrame(buf, off + 1);
      report.damagedRegions++;
      report.damagedBytes += resume - off;
      logger.warn(
        { segment: segmentName(n), offset: off, bytes: resume - off },
        'skipping a damaged stretch of the disk queue (torn or corrupted record)',
      );
      off = resume;
    }
  }
  report.records = [...found.values()].sort((a, b) => a.seq - b.seq);
  for (const r of report.records) {
    const s = segments.get(r.segment)!;
    s.live.add(r);
    s.liveBytes += r.length;
  }
  const unaccounted = (seq: number) => seq >= committed && !intact.has(seq) && !acked.acked.has(seq);
  for (const seq of acked.liveBelow) if (unaccounted(seq)) report.missingSeqs++;
  for (let seq = Math.max(committed, acked.below); seq <= maxSeq; seq++) if (unaccounted(seq)) report.missingSeqs++;
  return { segments: [...segments.values()], lastSegment: numbers.at(-1) ?? 0, maxSeq, report };
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
  logger.warn(
    { dir },
    'the disk queue offset file is unreadable; replaying every stored ' +
      'record (deduplication tokens keep them from being stored twice)',
  );
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
