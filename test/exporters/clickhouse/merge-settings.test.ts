import { createClient } from '@clickhouse/client';
import t from 'tap';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { embeddedClient, pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { emitWithSdk } from '../../support/sdk.js';

// The logs table merges with merge_selector_base = 10 (fewer rewrites of each row); a server that
// refuses the setting, shown by a refusal injected into the HTTP front, keeps its default and
// still stores every record.
const CREATE = `SELECT create_table_query AS q FROM system.tables WHERE database = 'otel' AND name = 'otel_logs'`;

async function storeOnce(front: ClickHouseHttpFront, records: number): Promise<boolean> {
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: front.url }));
  try {
    await emitWithSdk('http/protobuf', daemon, records);
    return await waitFor(async () => {
      const s = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as {
        exporters: { clickhouse: { exported?: number } };
      };
      return (s.exporters.clickhouse.exported ?? 0) >= records;
    });
  } finally {
    await daemon.stop();
  }
}

t.test('the logs table is created with merge_selector_base = 10, and a refusal keeps the default', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('front-merge-settings') });
  t.teardown(() => front.close());
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());

  front.inject({ kind: 'exception', count: 1, match: /merge_selector_base/, code: 115, name: 'UNKNOWN_SETTING' });
  t.ok(await storeOnce(front, 20), 'refused: 20 records stored all the same');
  const [refused] = await queryRows<{ q: string }>(client, CREATE);
  t.notMatch(refused!.q, /merge_selector_base/, 'and the table merges with the server default');

  t.ok(await storeOnce(front, 20), 'taken on the next start: 20 more records stored');
  const [taken] = await queryRows<{ q: string }>(client, CREATE);
  t.match(taken!.q, /merge_selector_base = 10/, 'the table has merge_selector_base = 10');
  t.notMatch(taken!.q, /min_bytes_for_wide_part/, "a server keeps its own parts' format");
  const [count] = await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs');
  t.equal(count!.n, '40', 'both runs are stored');
});

t.test('an outage while setting it is retried, not taken for a refusal', async (t) => {
  const front = await ClickHouseHttpFront.start({ path: tempDir('front-merge-settings-outage') });
  t.teardown(() => front.close());
  const client = createClient({ url: front.url });
  t.teardown(() => client.close());
  front.inject({ kind: 'status503', count: 2, match: /merge_selector_base/ });
  t.ok(await storeOnce(front, 10), '10 records stored');
  const [create] = await queryRows<{ q: string }>(client, CREATE);
  t.match(create!.q, /merge_selector_base = 10/, 'the setting is applied once the server answers');
});

t.test('embedded storage writes its parts compact up to 128 MiB', async (t) => {
  const path = tempDir('embedded-parts');
  const daemon = await startTestDaemon(pipelineYaml({ endpoint: `embedded://${path}` }));
  t.teardown(() => daemon.stop());
  await emitWithSdk('http/protobuf', daemon, 50);
  const client = embeddedClient(path);
  t.teardown(() => client.close());
  const count = 'SELECT toString(count()) AS n FROM otel.otel_logs';
  t.ok(await waitFor(async () => (await queryRows<{ n: string }>(client, count))[0]!.n === '50'), 'the records are stored');
  const [create] = await queryRows<{ q: string }>(client, CREATE);
  t.match(create!.q, /min_bytes_for_wide_part = 134217728/);
  t.match(create!.q, /merge_selector_base = 10/);
  // 100,000 rows: ClickHouse's default (10 MiB) writes this part wide.
  await client.command({
    query: "INSERT INTO otel.otel_logs (Timestamp, Body) SELECT now64(9) - INTERVAL 3 DAY, concat('message ', toString(number), ' ', hex(sipHash64(number))) FROM numbers(100000)",
  });
  const [part] = await queryRows<{ type: string }>(client, "SELECT part_type AS type FROM system.parts WHERE database = 'otel' AND table = 'otel_logs' AND active AND rows = 100000");
  t.equal(part?.type, 'Compact', 'a part of 100,000 rows is compact');
});
