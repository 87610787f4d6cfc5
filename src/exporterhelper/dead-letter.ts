import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** What the dead-letter entry says about a batch. */
export interface DeadLetterEntry {
  exporter: string;
  /** permanent (the sink rejected it for good) or retries_exhausted (max_elapsed_time passed). */
  reason: 'permanent' | 'retries_exhausted';
  error: string;
  records: number;
  token: string;
  attempts: number;
  first_attempt_at: string;
}

/** A file holding the batch itself, named `<entry><suffix>`. */
export interface DeadLetterFile {
  suffix: string;
  data: string | Uint8Array;
}

/**
 * Keeps what an exporter could not deliver, one entry per batch: the batch's files (for
 * ClickHouse, the INSERT statements, to apply by hand once the cause is fixed) and a JSON file
 * with the reason, written last so that a JSON file always describes complete data. Files are
 * synced before the batch leaves the queue.
 */
export class DeadLetterDirectory {
  readonly dir: string;

  constructor(root: string, exporterId: string) {
    this.dir = join(root, safeDirName(exporterId));
  }

  /** Writes an entry; returns the path of its JSON file. Throws if it cannot be written. */
  write(entry: DeadLetterEntry, files: DeadLetterFile[]): string {
    mkdirSync(this.dir, { recursive: true });
    const base = `${new Date().toISOString().replace(/[:.]/g, '-')}-${entry.token.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const names: string[] = [];
    for (const f of files) {
      writeDurably(join(this.dir, `${base}${f.suffix}`), f.data);
      names.push(`${base}${f.suffix}`);
    }
    const meta = join(this.dir, `${base}.json`);
    writeDurably(meta, `${JSON.stringify({ ...entry, files: names }, null, 2)}\n`);
    return meta;
  }
}

/** A component id (`type` or `type/name`) as one directory name. */
export function safeDirName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function writeDurably(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
