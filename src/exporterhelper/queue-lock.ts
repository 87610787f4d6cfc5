import { randomUUID } from 'node:crypto';
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { errorMessage } from '../pipeline/errors.js';

export interface QueueLockTiming {
  /** How often the holder touches the lock file. */
  refreshMs: number;
  /** A lock whose holder cannot be checked from here is stale once it was not touched for this long. */
  staleMs: number;
}

export const DEFAULT_LOCK_TIMING: QueueLockTiming = { refreshMs: 3000, staleMs: 15_000 };

/** Who holds a lock: enough to tell whether that process can be checked from here. */
interface Holder {
  pid: number;
  host: string;
  boot_id: string;
  pid_ns: string;
  nonce: string;
}

/** Directories this process holds: a lock naming this process's pid may be its own, not a predecessor's. */
const heldHere = new Set<string>();

function readOr(read: () => string): string {
  try {
    return read().trim();
  } catch {
    return '';
  }
}

function self(): Holder {
  return {
    pid: process.pid,
    host: hostname(),
    boot_id: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pid_ns: readOr(() => readlinkSync('/proc/self/ns/pid')),
    nonce: randomUUID(),
  };
}

/** A lock file as written by this version (JSON), or by earlier ones (the pid alone). */
function parseHolder(text: string): Partial<Holder> & { pid?: number } {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const h = JSON.parse(trimmed) as Partial<Holder>;
    return typeof h === 'object' && h !== null ? h : {};
  } catch {
    return {};
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

type Verdict = { kind: 'stale'; why: string } | { kind: 'live'; why: string } | { kind: 'unknown' };

/**
 * Whether the holder named in a lock file is gone. A pid means something only in the pid
 * namespace it came from (a container has its own), so it is checked only when the lock was
 * written in this one, on this boot; a lock from an earlier boot of this host is stale.
 * Otherwise (another container or pod, another host on shared storage) nothing here can see the
 * holder, and its lease decides.
 */
function judge(dir: string, holder: Partial<Holder>, me: Holder): Verdict {
  const pid = holder.pid;
  const legacy = holder.host === undefined && typeof pid === 'number';
  const sameNamespace =
    legacy ||
    (holder.host === me.host &&
      !!me.boot_id &&
      holder.boot_id === me.boot_id &&
      !!me.pid_ns &&
      holder.pid_ns === me.pid_ns);
  if (sameNamespace && typeof pid === 'number' && Number.isInteger(pid) && pid > 0) {
    if (pid === me.pid) {
      // A restarted container is often pid 1 again; but this process may also hold it already.
      return heldHere.has(dir)
        ? { kind: 'live', why: 'it is already open in this process' }
        : { kind: 'stale', why: `it names this process's pid ${pid}, left by a predecessor` };
    }
    return isAlive(pid)
      ? { kind: 'live', why: `process ${pid} is running` }
      : { kind: 'stale', why: `process ${pid} is gone` };
  }
  if (holder.host === me.host && !!me.boot_id && !!holder.boot_id && holder.boot_id !== me.boot_id)
    return { kind: 'stale', why: 'it was taken before this host last booted' };
  return { kind: 'unknown' };
}

function describe(holder: Partial<Holder>): string {
  const where = [holder.host && `host ${holder.host}`, holder.pid_ns && `pid namespace ${holder.pid_ns}`]
    .filter(Boolean)
    .join(', ');
  return `process ${holder.pid ?? '?'}${where ? ` (${where})` : ''}`;
}

function mtimeMs(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * One process per queue directory, also across containers that share it (a hostPath or a volume
 * mounted by a pod and its replacement). The lock file is created exclusively and names its holder
 * (pid, host, boot, pid namespace); the holder touches it every refreshMs. A lock whose holder can
 * be checked from here (same pid namespace) is taken over at once when that process is gone; one
 * whose holder cannot (another container) is taken over only once it has not been touched for
 * staleMs, and refused as soon as it is seen touched.
 */
export class QueueLock {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly dir: string,
    private readonly me: Holder,
    private readonly logger: Logger,
  ) {}

  private get path(): string {
    return join(this.dir, 'lock');
  }

  static async take(dir: string, logger: Logger, timing: QueueLockTiming = DEFAULT_LOCK_TIMING): Promise<QueueLock> {
    const lock = new QueueLock(dir, self(), logger);
    await lock.acquire(timing);
    heldHere.add(dir);
    lock.timer = setInterval(() => lock.refresh(), timing.refreshMs);
    lock.timer.unref();
    return lock;
  }

  /** Removes the lock file, if it is still this holder's. */
  release(): void {
    clearInterval(this.timer);
    heldHere.delete(this.dir);
    if (parseHolder(readOr(() => readFileSync(this.path, 'utf8'))).nonce !== this.me.nonce) return;
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  private async acquire(timing: QueueLockTiming): Promise<void> {
    let waitingSince: number | undefined;
    let firstSeen: number | undefined;
    for (;;) {
      if (this.create()) return;
      const seen = readOr(() => readFileSync(this.path, 'utf8'));
      const touched = mtimeMs(this.path);
      if (touched === undefined) continue; // released meanwhile
      const holder = parseHolder(seen);
      const verdict = judge(this.dir, holder, this.me);
      if (verdict.kind === 'live')
        throw new Error(
          `the queue directory ${this.dir} is in use by ${describe(holder)}: ${verdict.why} ` +
            `(remove ${this.path} if that process is not otelhouse)`,
        );
      if (verdict.kind === 'unknown') {
        firstSeen ??= touched;
        if (touched !== firstSeen) {
          throw new Error(
            `the queue directory ${this.dir} is in use by ${describe(holder)}, which keeps its ` +
              `lock fresh: a disk queue belongs to one process (a pod and its replacement must ` +
              `not run at the same time; remove ${this.path} if that process is not otelhouse)`,
          );
        }
        const age = Date.now() - touched;
        if (age < timing.staleMs) {
          if (waitingSince === undefined) {
            waitingSince = Date.now();
            this.logger.warn(
              { dir: this.dir, holder: describe(holder), wait_ms: Math.ceil(timing.staleMs - age) },
              'the disk queue is locked by a process this one cannot check ' +
                '(another container?); waiting to see whether it is alive',
            );
          }
          await sleep(Math.min(timing.refreshMs, timing.staleMs - age) + 10);
          continue;
        }
      }
      const why =
        verdict.kind === 'stale'
          ? verdict.why
          : `it was not refreshed for ${Math.round((Date.now() - touched) / 1000)} s`;
      if (this.takeOver(seen))
        this.logger.warn(
          { dir: this.dir, holder: describe(holder), reason: why },
          'took over the lock of the disk queue left by a process that is gone',
        );
    }
  }

  /** Creates the lock file if there is none; false if one exists. */
  private create(): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      writeSync(fd, `${JSON.stringify(this.me)}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /**
   * Moves the stale lock aside, checking it is the one judged stale: another process may have
   * taken the lock over between our read and our move; its lock is then put back.
   */
  private takeOver(seen: string): boolean {
    const aside = `${this.path}.${this.me.nonce}`;
    try {
      renameSync(this.path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const moved = readOr(() => readFileSync(aside, 'utf8'));
    if (moved !== seen.trim()) {
      try {
        linkSync(aside, this.path);
      } catch {
        // A third process created one meanwhile; theirs stands.
      }
    }
    unlinkSync(aside);
    return moved === seen.trim();
  }

  /** Shows the lock is alive, and notices if someone else took it. */
  private refresh(): void {
    const holder = parseHolder(readOr(() => readFileSync(this.path, 'utf8')));
    if (holder.nonce !== this.me.nonce) {
      this.logger.error(
        { dir: this.dir, holder: describe(holder) },
        'the lock of this disk queue was taken by another process; two processes are using the same queue directory',
      );
      return;
    }
    try {
      const now = new Date();
      utimesSync(this.path, now, now);
    } catch (err) {
      this.logger.warn({ dir: this.dir, err: errorMessage(err) }, 'cannot refresh the lock of the disk queue');
    }
  }
}
