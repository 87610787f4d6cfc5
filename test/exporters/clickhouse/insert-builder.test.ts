import t from 'tap';
import { clickhouseConfigSchema } from '../../../src/exporters/clickhouse/config.js';
import { LogsInsertBuilder, MAX_DAYS_PER_PART, encodeLogs, logsInsertStatement, partLines, type LogsInsert } from '../../../src/exporters/clickhouse/row-encoder.js';
import { schemaStatements } from '../../../src/exporters/clickhouse/schema.js';
import { newAttributes, newLogRecord, type LogBatch } from '../../../src/pipeline/model.js';
import { columnsOf, readColumns, sameColumns } from '../../support/columns.js';
import { everyKindBatch } from '../../support/every-kind-batch.js';
import { embeddedClient, queryRows, tempDir } from '../../support/daemon.js';

/*
 * sending_queue.batch builds one insert from many requests (LogsInsertBuilder): what chDB stores
 * from it must be what one insert of all those records would store, whatever the requests were.
 */

const NOW = 1_800_000_000_000_000_000n;
const DAY = 86_400_000_000_000n;

const dir = tempDir('insert-builder');
const client = embeddedClient(dir);
t.teardown(() => client.close());

async function insert(table: string, logs: LogsInsert): Promise<void> {
  for (const part of logs.parts) {
    const lines = partLines(part);
    await client.command({ query: logsInsertStatement(table, logs, lines.toString()), clickhouse_settings: { max_query_size: String(lines.length * 3 + 65536) } });
  }
}

/** Each resource of the batch as a request of its own. */
function perResource(batch: LogBatch): LogBatch[] {
  return batch.resourceLogs.map((rl) => ({ resourceLogs: [rl] }));
}

t.before(async () => {
  for (const statement of schemaStatements(clickhouseConfigSchema.parse({}))) await client.command({ query: statement });
});

t.test('an insert built from requests one by one stores what one insert of them all stores, column by column', async (t) => {
  for (const table of ['built', 'whole']) await client.command({ query: `CREATE TABLE otel.${table} AS otel.otel_logs` });
  const batch = everyKindBatch(false);
  const builder = new LogsInsertBuilder();
  for (const request of perResource(batch)) builder.add(request, NOW);
  const records = batch.resourceLogs.reduce((n, rl) => n + rl.scopeLogs[0]!.logRecords.length, 0);
  const built = builder.finish();
  t.equal(
    built.parts.reduce((n, p) => n + p.rows, 0),
    records,
    'the parts count the rows added',
  );
  await insert('otel.built', built);
  await insert('otel.whole', encodeLogs(batch, NOW));
  const columns = await columnsOf(client, 'otel', 'whole');
  const whole = await readColumns(client, columns, 'otel.whole');
  t.equal(whole.length, records);
  sameColumns(t, columns, await readColumns(client, columns, 'otel.built'), whole, 'built');
});

t.test('a request that throws half-way leaves the rows of the requests before and after it intact', async (t) => {
  for (const table of ['rolled_back', 'good_only']) await client.command({ query: `CREATE TABLE otel.${table} AS otel.otel_logs` });
  const [first, second, ...rest] = perResource(everyKindBatch(false));
  // Rows into the part the first request opened, a new part 200 days back, then a value that throws.
  const poison = everyKindBatch(false).resourceLogs[0]!;
  const records = poison.scopeLogs[0]!.logRecords;
  records[4]!.timeUnixNano = NOW - 200n * DAY;
  Object.defineProperty(records[7]!.attributes, 'exploding', {
    enumerable: true,
    get() {
      throw new Error('a value no encoder takes');
    },
  });
  const builder = new LogsInsertBuilder();
  builder.add(first!, NOW);
  builder.add(second!, NOW);
  t.throws(() => builder.add({ resourceLogs: [poison] }, NOW), /a value no encoder takes/);
  for (const request of rest) builder.add(request, NOW);
  const built = builder.finish();
  t.equal(built.parts.length, 1, 'the part the failed request opened for its older row is gone');
  const good = [first!, second!, ...rest].reduce((n, b) => n + b.resourceLogs[0]!.scopeLogs[0]!.logRecords.length, 0);
  t.equal(built.parts[0]!.rows, good, 'and the rows it wrote into the other are not counted');
  await insert('otel.rolled_back', built);
  await insert('otel.good_only', encodeLogs({ resourceLogs: [first!, second!, ...rest].flatMap((b) => b.resourceLogs) }, NOW));
  const columns = await columnsOf(client, 'otel', 'good_only');
  const expected = await readColumns(client, columns, 'otel.good_only');
  sameColumns(t, columns, await readColumns(client, columns, 'otel.rolled_back'), expected, 'rolled back');
});

t.test(`a backfill arriving a day a request, out of order, is cut into parts of at most ${MAX_DAYS_PER_PART} days, and each row stored on its day`, async (t) => {
  await client.command({ query: 'CREATE TABLE otel.backfill AS otel.otel_logs' });
  const DAYS = 130;
  const order = Array.from({ length: DAYS }, (_, i) => (i * 37) % DAYS);
  const builder = new LogsInsertBuilder();
  for (const day of order) {
    const resource = newAttributes();
    resource['service.name'] = 'backfill';
    const logRecords = [0n, 1n, 2n].map((k) => {
      const r = newLogRecord();
      r.timeUnixNano = NOW - BigInt(day) * DAY + k * 3_600_000_000_000n;
      r.body = `day ${day} record ${k}`;
      return r;
    });
    builder.add(
      {
        resourceLogs: [
          {
            resource: { attributes: resource, droppedAttributesCount: 0 },
            schemaUrl: '',
            scopeLogs: [{ scope: { name: '', version: '', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', logRecords }],
          },
        ],
      },
      NOW,
    );
  }
  const logs = builder.finish();
  t.ok(logs.parts.length >= Math.ceil(DAYS / MAX_DAYS_PER_PART), `${logs.parts.length} parts`);
  for (const [i, part] of logs.parts.entries()) {
    const days = new Set(
      partLines(part)
        .toString()
        .trimEnd()
        .split('\n')
        .map((line) => BigInt((JSON.parse(line.replace(/^\[(\d+),/, '["$1",')) as string[])[0]!) / DAY),
    );
    const span = Number([...days].reduce((a, b) => (b > a ? b : a)) - [...days].reduce((a, b) => (b < a ? b : a))) + 1;
    t.ok(span <= MAX_DAYS_PER_PART, `part ${i + 1}: ${part.rows} rows over ${span} days`);
  }
  await insert('otel.backfill', logs);
  const [row] = await queryRows<{ rows: string; days: string; wrong: string }>(
    client,
    `SELECT toString(count()) AS rows, toString(uniqExact(toDate(Timestamp))) AS days,
            toString(countIf(toInt64(extract(Body, '^day (\\\\d+)')) != dateDiff('day', toDate(Timestamp), toDate(fromUnixTimestamp64Nano(${NOW}))))) AS wrong
     FROM otel.backfill`,
  );
  t.same(row, { rows: String(DAYS * 3), days: String(DAYS), wrong: '0' }, 'every row stored, on its own day');
});
