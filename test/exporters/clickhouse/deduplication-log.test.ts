import { execFileSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { embeddedClient, queryRows, tempDir } from '../../support/daemon.js';

/*
 * ClickHouse writes a block's record to a non-replicated table's deduplication log before it
 * renames the block's part into place. A kill -9 of the daemon (chDB runs in it) in between leaves
 * the record without the part; the queue replays the batch with the same token after the restart.
 * Each run below is a child process, a daemon's start and one send of the batch, as after a restart.
 */

const CHILD = fileURLToPath(new URL('../../support/replay-batch-child.js', import.meta.url));

interface Run {
  outcome: unknown;
  logs: { msg: string; table?: string; blocks?: number; torn_record?: boolean }[];
}

function send(store: string, token: string, days: number, perDay: number): Run {
  return JSON.parse(execFileSync(process.execPath, [CHILD, store, token, String(days), String(perDay)], { encoding: 'utf8' })) as Run;
}

/** The directory of otel.otel_logs, from its metadata (an Atomic database names it by UUID). */
function logsTableDir(store: string): string {
  const uuid = /UUID '([0-9a-f-]+)'/.exec(readFileSync(join(store, 'metadata', 'otel', 'otel_logs.sql'), 'utf8'))![1]!;
  return join(store, 'store', uuid.slice(0, 3), uuid);
}

async function perDay(store: string): Promise<Record<string, { rows: number; distinct: number }>> {
  const client = embeddedClient(store);
  try {
    const rows = await queryRows<{ d: string; n: string; u: string }>(
      client,
      "SELECT toString(toDate(Timestamp)) AS d, toString(count()) AS n, toString(uniqExact(LogAttributes['seq'])) AS u FROM otel.otel_logs GROUP BY d ORDER BY d",
    );
    return Object.fromEntries(rows.map((r) => [r.d, { rows: Number(r.n), distinct: Number(r.u) }]));
  } finally {
    await client.close();
  }
}

t.test('a batch replayed after a kill -9 cut its insert short stores the part ClickHouse logged but never committed, and the others once', async (t) => {
  const store = tempDir('dedup-uncommitted');
  t.same(send(store, 'batch-a', 3, 4).logs, [], 'the first send is stored without a complaint');
  const table = logsTableDir(store);
  const parts = readdirSync(table).filter((name) => name.startsWith('20261102_'));
  t.equal(parts.length, 1, 'one part holds 2026-11-02');
  // What the kill leaves: the record in the log, and no part (ClickHouse removes the tmp_insert_
  // directory as it loads the table).
  t.match(readFileSync(join(table, 'deduplication_logs', 'deduplication_log_1.txt'), 'utf8'), `\t${parts[0]}\t`);
  rmSync(join(table, parts[0]!), { recursive: true });

  const replay = send(store, 'batch-a', 3, 4);
  t.equal(replay.outcome, null, 'the replay is not refused');
  t.match(replay.logs, [{ table: 'otel.otel_logs', blocks: 1, torn_record: false, msg: /deduplication log named blocks whose parts are not in the store/ }], 'the repair is logged');
  t.same(await perDay(store), { '2026-11-01': { rows: 4, distinct: 4 }, '2026-11-02': { rows: 4, distinct: 4 }, '2026-11-03': { rows: 4, distinct: 4 } }, 'every day of the batch is stored once');

  t.same(send(store, 'batch-a', 3, 4).logs, [], 'a store without such records is left as it is');
  t.same(
    Object.values(await perDay(store)).map((d) => d.rows),
    [4, 4, 4],
    'and the batch sent again is still deduplicated',
  );
});

t.test('a record a kill -9 cut short at the end of the log is cut off, so the records after it are read again', async (t) => {
  const store = tempDir('dedup-torn');
  send(store, 'batch-b', 2, 3);
  const log = join(logsTableDir(store), 'deduplication_logs', 'deduplication_log_1.txt');
  appendFileSync(log, '1\t20261101_9');

  const replay = send(store, 'batch-b', 2, 3);
  t.match(replay.logs, [{ table: 'otel.otel_logs', blocks: 0, torn_record: true }], 'the cut is logged');
  t.ok(readFileSync(log, 'latin1').endsWith('\n'), 'the log ends with a whole record');
  t.same(
    Object.values(await perDay(store)).map((d) => d.rows),
    [3, 3],
    'the records before the torn one still deduplicate the replay',
  );

  // A record appended after a torn one would be unreadable, and its batch stored twice.
  send(store, 'batch-c', 1, 2);
  send(store, 'batch-c', 1, 2);
  t.same(
    Object.values(await perDay(store)).map((d) => d.rows),
    [5, 3],
    'a batch sent after the cut deduplicates too',
  );
});
