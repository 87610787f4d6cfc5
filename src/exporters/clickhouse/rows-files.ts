import { mkdirSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The rows of embedded inserts, handed to chDB as files (D84). They sit in a directory of the
 * exporter's own inside the store, so they are on the store's disk and another exporter's inserts
 * are not touched; each lives for one insert, and a process that died mid-insert leaves its
 * files to the next start, which removes them (the queue still holds their batches).
 */
export class RowsFiles {
  private next = 0;

  constructor(private readonly dir: string) {}

  /** The directory for an exporter's id under a store's path: one name per id, as ids hold '/'. */
  static forExporter(storePath: string, exporterId: string): RowsFiles {
    return new RowsFiles(join(storePath, 'otelhouse_rows', encodeURIComponent(exporterId)));
  }

  /** Empties the directory, making it if needed. */
  prepare(): void {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
  }

  /** Writes rows to a new file; its path. chDB reads a file by its extension: `.jsonl.zst` is zstd. */
  async write(rows: Uint8Array, extension: '.jsonl' | '.jsonl.zst'): Promise<string> {
    const file = join(this.dir, `${this.next++}${extension}`);
    await writeFile(file, rows);
    return file;
  }

  async remove(file: string): Promise<void> {
    await rm(file, { force: true });
  }
}
