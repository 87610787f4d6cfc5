import { createClient } from '@clickhouse/client';
import t from 'tap';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
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
