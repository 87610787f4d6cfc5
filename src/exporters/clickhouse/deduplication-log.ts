import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/*
 * A non-replicated MergeTree keeps the block IDs of recent inserts (non_replicated_deduplication_window)
 * in <table>/deduplication_logs/deduplication_log_N.txt, one record a line: `1 TAB part TAB block_id`
 * when a block is added, `2 TAB part TAB block_id` when it is forgotten. ClickHouse writes the add
 * record before it renames the new part into place, so a process killed in between (with chDB, a
 * kill -9 of the daemon itself) leaves a record whose part never existed. The replay of that batch,
 * with the same insert_deduplication_token, is then dropped as a duplicate: acknowledged rows lost.
 * scanDeduplicationLog finds such records — blocks whose part no part on disk covers — and
 * forgetUncommittedBlocks forgets them the way ClickHouse forgets the blocks of a dropped part: by a
 * drop record. The scan must see the store as the crash left it, before chDB opens it: once open, a
 * merge of the parts on either side of the missing one makes a part whose range covers it.
 */

const LOG_FILE = /^deduplication_log_(\d+)\.txt$/;
const RECORD = /^([12])\t([^\t\n]+)\t([^\t\n]+)$/;
/** partition_min_max_level[_mutation]: a partition ID holds no underscore. */
const PART_NAME = /^([^_]+)_(\d+)_(\d+)_(\d+)(?:_(\d+))?$/;

interface BlockRange {
  partition: string;
  min: number;
  max: number;
}

export interface UncommittedBlock {
  part: string;
  blockId: string;
}

/** What a table's deduplication log needs: nothing, or its torn last line cut and blocks forgotten. */
export interface DeduplicationLogScan {
  /** The log written last, which new records are appended to. */
  file: string;
  /** Where a last record cut short by a crash starts (the file is truncated there), if one is. */
  tornAt: number | undefined;
  uncommitted: UncommittedBlock[];
}

function blockRange(name: string): BlockRange | undefined {
  const m = PART_NAME.exec(name);
  return m ? { partition: m[1]!, min: Number(m[2]), max: Number(m[3]) } : undefined;
}

/**
 * Reads a table's deduplication log and the parts in its directory. Returns undefined when there is
 * nothing to do, and throws when the log holds something this reader does not know (a record of
 * another shape, a file of another name): then it is better left to ClickHouse untouched.
 */
export function scanDeduplicationLog(tableDir: string): DeduplicationLogScan | undefined {
  const logsDir = join(tableDir, 'deduplication_logs');
  const logs: { n: number; file: string }[] = [];
  for (const name of entriesOf(logsDir)) {
    const m = LOG_FILE.exec(name);
    if (!m) throw new Error(`${logsDir} holds ${name}, which is not a deduplication log this daemon knows`);
    logs.push({ n: Number(m[1]), file: join(logsDir, name) });
  }
  if (logs.length === 0) return undefined;
  logs.sort((a, b) => a.n - b.n);

  const blocks = new Map<string, string>();
  let tornAt: number | undefined;
  for (let i = 0; i < logs.length; i++) {
    const text = readFileSync(logs[i]!.file, 'latin1');
    const end = text.lastIndexOf('\n') + 1;
    // Only the file written last can end in a record cut short: its part was never renamed in.
    if (end < text.length) {
      if (i !== logs.length - 1) throw new Error(`${logs[i]!.file} ends in an unfinished record`);
      tornAt = end;
    }
    for (const line of text.slice(0, end).split('\n')) {
      if (line === '') continue;
      const m = RECORD.exec(line);
      if (!m)
        throw new Error(
          `${logs[i]!.file} holds a record this daemon does not know: ${JSON.stringify(line.slice(0, 200))}`,
        );
      if (m[1] === '1') blocks.set(m[3]!, m[2]!);
      else blocks.delete(m[3]!);
    }
  }

  const parts = new Map<string, BlockRange[]>();
  for (const name of readdirSync(tableDir)) {
    const range = blockRange(name);
    if (!range) continue;
    let list = parts.get(range.partition);
    if (!list) parts.set(range.partition, (list = []));
    list.push(range);
  }
  const uncommitted: UncommittedBlock[] = [];
  for (const [blockId, part] of blocks) {
    const range = blockRange(part);
    if (!range) throw new Error(`${logsDir} names a part this daemon cannot read: ${part}`);
    const covered = parts.get(range.partition)?.some((p) => p.min <= range.min && range.max <= p.max);
    if (!covered) uncommitted.push({ part, blockId });
  }
  if (uncommitted.length === 0 && tornAt === undefined) return undefined;
  return { file: logs[logs.length - 1]!.file, tornAt, uncommitted };
}

/** A table of an embedded store whose deduplication log needs repair, or could not be read. */
export type StoreTableScan = { dir: string; scan: DeduplicationLogScan } | { dir: string; error: Error };

/** The tables of an embedded store (store/<prefix>/<uuid>/) whose deduplication logs need repair. */
export function scanStoreDeduplicationLogs(storePath: string): StoreTableScan[] {
  const found: StoreTableScan[] = [];
  const root = join(storePath, 'store');
  for (const prefix of entriesOf(root)) {
    for (const table of entriesOf(join(root, prefix))) {
      const dir = join(root, prefix, table);
      try {
        const scan = scanDeduplicationLog(dir);
        if (scan) found.push({ dir, scan });
      } catch (err) {
        found.push({ dir, error: err as Error });
      }
    }
  }
  return found;
}

/** A directory's entries; none when it does not exist (a table without a log, a new store). */
function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Applies a scan while ClickHouse has the table detached: cuts the torn record and appends a drop
 * record for each uncommitted block, synced, so the next load of the table forgets them.
 */
export function forgetUncommittedBlocks(scan: DeduplicationLogScan): void {
  if (scan.tornAt !== undefined) truncateSync(scan.file, scan.tornAt);
  if (scan.uncommitted.length === 0) return;
  const fd = openSync(scan.file, 'a');
  try {
    writeSync(fd, scan.uncommitted.map((b) => `2\t${b.part}\t${b.blockId}\n`).join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
