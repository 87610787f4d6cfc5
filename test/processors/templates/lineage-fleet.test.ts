import { createClient } from '@clickhouse/client';
import t from 'tap';
import { DEFAULT_DATA_DIR } from '../../../bench/accuracy.js';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { checkForest, exported, haveData, readDataset, send, yaml } from '../../support/lineage.js';

t.test(
  'a restart between, evictions, and two daemons writing one ClickHouse: every id resolves to one current template',
  { skip: haveData ? false : `no sample data at ${DEFAULT_DATA_DIR}` },
  async (t) => {
    const front = await ClickHouseHttpFront.start({ path: tempDir('lineage-front') });
    t.teardown(() => front.close());
    const { messages } = readDataset('Linux');
    const half = messages.length / 2;
    // A small max_templates evicts; a restart starts from the stored templates; two daemons learn
    // the same events in different orders.
    const a = await startTestDaemon(yaml(front.url, 'max_templates: 60'));
    await send(a, 'linux', messages.slice(0, half), 100);
    await a.stop();
    const a2 = await startTestDaemon(yaml(front.url, 'max_templates: 60'));
    t.teardown(() => a2.stop());
    const b = await startTestDaemon(yaml(front.url));
    t.teardown(() => b.stop());
    await Promise.all([send(a2, 'linux', messages.slice(half), 100, half), send(b, 'linux', [...messages].reverse(), 250, messages.length)]);
    const client = createClient({ url: front.url });
    t.teardown(() => client.close());
    // The first daemon exported its half before it stopped.
    t.ok(await waitFor(() => exported([a2, b], half + messages.length), 60_000), 'all records exported, with their templates');
    t.equal((await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n, String(2 * messages.length), 'all rows stored');
    await client.command({ query: 'SYSTEM RELOAD DICTIONARIES' });
    const [lineage] = await queryRows<{ edges: string }>(client, 'SELECT toString(count()) AS edges FROM otel.log_templates_lineage FINAL');
    t.ok(Number(lineage!.edges) > 0, `${lineage!.edges} lineage edges`);
    await checkForest(t, client, 'restart, evictions, two daemons');
    // Daemon b sent the lines in reverse order, numbered from messages.length on.
    const lines = await queryRows<{ line: number; current: string }>(client, "SELECT toUInt32(LogAttributes['line']) AS line, toString(CurrentTemplateId) AS current FROM otel.otel_logs");
    const byMessage = new Map<number, Set<string>>();
    const n = messages.length;
    for (const r of lines) {
      const index = r.line < n ? r.line : 2 * n - 1 - r.line;
      (byMessage.get(index) ?? byMessage.set(index, new Set()).get(index)!).add(r.current);
    }
    const split = [...byMessage.values()].filter((s) => s.size > 1).length;
    t.equal(split, 0, `the two daemons, learning in opposite orders, resolve each line to the same current template (${split} of ${n} lines differ)`);
    const [hourly] = await queryRows<{ rows: string; counted: string }>(
      client,
      'SELECT toString((SELECT count() FROM otel.otel_logs)) AS rows, toString(sum(Count)) AS counted FROM (SELECT CurrentTemplateId, sum(Count) AS Count FROM otel.log_templates_hourly GROUP BY CurrentTemplateId)',
    );
    t.equal(hourly!.counted, hourly!.rows, 'the hourly counts by current template add up to the rows');
  },
);
