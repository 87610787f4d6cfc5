import { createClient } from '@clickhouse/client';
import t from 'tap';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { emitWithSdk } from '../../support/sdk.js';

// The word search index on lower(Body): a text index where the server takes one (ClickHouse 26.2
// and newer, chDB here), tokenbf where it refuses (older servers, shown by a refusal injected
// into the HTTP front), and a store made by a refusing server upgraded on the next start.
const INDEXES = `SELECT name, type FROM system.data_skipping_indices WHERE database = 'otel' AND table = 'otel_logs' AND name IN ('idx_body_text', 'idx_lower_body') ORDER BY name`;

/** Runs a daemon on the front until `records` SDK records are stored; whether they were. */
async function storeOnce(front: ClickHouseHttpFront, records: number): Promise<boolean> {
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: front.url }));
  try {
    await emitWithSdk('http/protobuf', daemon, records);
    return await waitFor(async () => {
      const s = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { exported?: number } } };
      return (s.exporters.clickhouse.exported ?? 0) >= records;
    });
  } finally {
    await daemon.stop();
  }
}

t.test('a server that refuses the text index keeps tokenbf; the next start on one that takes it upgrades the table', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('front-text-index') });
  t.teardown(() => front.close());
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());

  front.inject({ kind: 'exception', count: 1, match: /TYPE text/, code: 36, name: 'BAD_ARGUMENTS' });
  t.ok(await storeOnce(front, 20), '20 records stored');
  t.same(await queryRows(client, INDEXES), [{ name: 'idx_lower_body', type: 'tokenbf_v1' }], 'refused: the table keeps its tokenbf index');
  const words = `SELECT toString(count()) AS n FROM otel.otel_logs WHERE hasToken(lower(Body), 'payment')`;
  const [before] = await queryRows<{ n: string }>(client, words);
  t.ok(Number(before!.n) > 0, 'and word search finds the records through it');

  t.ok(await storeOnce(front, 20), '20 records stored');
  t.same(await queryRows(client, INDEXES), [{ name: 'idx_body_text', type: 'text' }], 'taken: the text index replaces tokenbf');
  const [after] = await queryRows<{ n: string }>(client, words);
  t.equal(Number(after!.n), Number(before!.n) * 2, 'word search finds the records of both runs, those written before the index too');
});

t.test('an outage while adding the index is retried, not taken for a refusal', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('front-text-index-outage') });
  t.teardown(() => front.close());
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  front.inject({ kind: 'status503', count: 2, match: /TYPE text/ });
  t.ok(await storeOnce(front, 10), '10 records stored');
  t.same(await queryRows(client, INDEXES), [{ name: 'idx_body_text', type: 'text' }], 'the text index is added once the server answers');
});

t.test('a restart does not rewrite the table: once tokenbf is gone, no start issues a mutation', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('front-text-index-restart') });
  t.teardown(() => front.close());
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  const mutations = `SELECT command FROM system.mutations WHERE database = 'otel' AND table = 'otel_logs' ORDER BY mutation_id`;
  t.ok(await storeOnce(front, 10), '10 records stored');
  const first = await queryRows<{ command: string }>(client, mutations);
  t.same(
    first.map((m) => m.command),
    ['(DROP INDEX IF EXISTS idx_lower_body)'],
    'the first start drops tokenbf, on the empty table',
  );
  t.ok(await storeOnce(front, 10), 'a second start stores 10 more');
  t.ok(await storeOnce(front, 10), 'a third start stores 10 more');
  t.same(await queryRows(client, mutations), first, 'and neither issued a mutation');
  t.same(await queryRows(client, INDEXES), [{ name: 'idx_body_text', type: 'text' }], 'the text index stays');
});
