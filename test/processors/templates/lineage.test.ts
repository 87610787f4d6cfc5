import t from 'tap';
import { DEFAULT_DATA_DIR, groupingAccuracy, mineMessages, normaliseTemplate } from '../../../bench/accuracy.js';
import { embeddedClient, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { DATASETS, checkForest, exported, haveData, readDataset, send, storedRows, yaml } from '../../support/lineage.js';

/*
 * A template that generalised mid-stream must not split its event into several groups: as
 * stored and resolved through the shipped SQL, the rows are grouped as the miner grouped them.
 */

t.test(
  'as stored and resolved, a dataset is grouped exactly as the miner grouped it offline, in requests of 2,000 and of 1',
  { skip: haveData ? false : `no sample data at ${DEFAULT_DATA_DIR}` },
  async (t) => {
    const store = tempDir('lineage');
    const daemon = await startTestDaemon(yaml(`embedded://${store}`));
    t.teardown(() => daemon.stop());
    const client = embeddedClient(store);
    t.teardown(() => client.close());
    let sent = 0;
    for (const name of DATASETS) {
      const { messages, truth } = readDataset(name);
      const offline = mineMessages(messages);
      for (const perRequest of [2000, 1]) {
        const service = `${name}-${perRequest}`;
        await send(daemon, service, messages, perRequest);
        sent += messages.length;
        t.ok(await waitFor(() => exported([daemon], sent), 60_000), `${service}: all ${messages.length} records exported, with their templates`);
        const rows = await storedRows(client, service);
        const current = rows.map((r) => r.current);
        t.equal(groupingAccuracy(current, offline), 1, `${service}: the resolved groups are the offline groups`);
        t.equal(groupingAccuracy(current, truth), groupingAccuracy(offline, truth), `${service}: grouping accuracy as stored equals offline (${groupingAccuracy(current, truth).toFixed(3)})`);
        t.ok(
          groupingAccuracy(
            rows.map((r) => r.raw),
            truth,
          ) < groupingAccuracy(current, truth),
          `${service}: without the lineage the ids split events (${groupingAccuracy(
            rows.map((r) => r.raw),
            truth,
          ).toFixed(3)})`,
        );
        t.same(
          rows.map((r) => normaliseTemplate(r.template)),
          offline.map(normaliseTemplate),
          `${service}: the Template column is the offline template text of each line`,
        );
      }
    }
    await checkForest(t, client, 'one daemon');
  },
);
