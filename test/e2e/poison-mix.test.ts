import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startDaemonProcess } from '../support/cli.js';
import { embeddedClient, queryRows, tempDir, waitFor } from '../support/daemon.js';
import { childDaemonConfig, LONG_FAULTS, NumberedLoad, storedCounts } from '../support/load.js';

/*
 * A "poison mix": normal numbered traffic interleaved with hostile but valid requests — backfills
 * over many days, thousands of resources, a record with thousands of attributes, records a table
 * CONSTRAINT refuses — into a daemon with the shipped retry policy (retry for ever), killed with
 * SIGKILL twice. Every acknowledged normal record is stored exactly once; every acknowledged
 * hostile record is stored or dead-lettered with the reason; exports never stall.
 */

const RUN_MS = LONG_FAULTS ? 60_000 : 12_000;
const RECORDS_PER_REQUEST = 100;
const DAY_NS = 86_400_000_000_000n;
const PREPARE = fileURLToPath(new URL('../support/prepare-store.js', import.meta.url));

const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });

/** The hostile requests, in turn; each record carries its own number in `hseq`. */
function hostileRequest(kind: number, first: number): { body: string; records: number; poison: number[] } {
  const now = BigInt(Date.now()) * 1_000_000n;
  const rec = (h: number, body: string, time = now, extra: ReturnType<typeof kv>[] = []) => ({
    timeUnixNano: String(time),
    body: { stringValue: body },
    attributes: [kv('hseq', String(h)), ...extra],
  });
  const one = (attrs: ReturnType<typeof kv>[], records: ReturnType<typeof rec>[]) => ({ resource: { attributes: attrs }, scopeLogs: [{ scope: { name: 'hostile' }, logRecords: records }] });
  const svc = [kv('service.name', 'hostile')];
  let resourceLogs;
  const poison: number[] = [];
  switch (kind % 4) {
    case 0: // a backfill: one record a day over 150 days
      resourceLogs = [
        one(
          svc,
          Array.from({ length: 150 }, (_, i) => rec(first + i, `backfill ${first + i}`, now - BigInt(i) * DAY_NS)),
        ),
      ];
      break;
    case 1: // a gateway's request: 1,500 pod resources of 12 attributes, one record each
      resourceLogs = Array.from({ length: 1500 }, (_, p) => one([...svc, ...Array.from({ length: 11 }, (_, k) => kv(`k8s.x.${k}`, `pod-${first}-${p}-${k}`))], [rec(first + p, `pod ${first + p}`)]));
      break;
    case 2: // one record with 3,000 attributes, among ordinary ones
      resourceLogs = [
        one(
          svc,
          Array.from({ length: 20 }, (_, i) => rec(first + i, `wide ${first + i}`, now, i === 0 ? Array.from({ length: 3000 }, (_, k) => kv(`attr.${k}`, `v${k}`)) : [])),
        ),
      ];
      break;
    default: // values the table refuses: two records among 40 violate its CONSTRAINT
      resourceLogs = [
        one(
          svc,
          Array.from({ length: 40 }, (_, i) => rec(first + i, i === 7 || i === 31 ? `POISON ${first + i}` : `fine ${first + i}`)),
        ),
      ];
      poison.push(first + 7, first + 31);
  }
  const records = resourceLogs.reduce((n, r) => n + r.scopeLogs[0]!.logRecords.length, 0);
  return { body: JSON.stringify({ resourceLogs }), records, poison };
}

t.test(`poison mix for ${RUN_MS / 1000} s with kill -9 twice: nothing acknowledged lost, nothing stuck`, async (t) => {
  const dir = tempDir('poison-mix');
  const store = join(dir, 'store');
  const deadLetterDir = join(dir, 'dead_letter');
  execFileSync(process.execPath, [PREPARE, store, "ALTER TABLE otel.otel_logs ADD CONSTRAINT no_poison CHECK position(Body, 'POISON') = 0"]);
  const { configFile, httpPort, telemetryPort } = await childDaemonConfig(
    dir,
    `
processors:
  batch: { send_batch_size: 2000, timeout: 100ms, wait_for_flush: true }
exporters:
  clickhouse:
    endpoint: embedded://${store}
    sending_queue: { storage: ${join(dir, 'queue')}, queue_size: 50000, segment_size: 4MiB }
    dead_letter: { path: ${deadLetterDir} }
    retry_on_failure: { initial_interval: 50ms, max_interval: 500ms, max_elapsed_time: 0 }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [batch], exporters: [clickhouse] }
`,
  );
  const url = `http://127.0.0.1:${httpPort}/v1/logs`;
  const load = new NumberedLoad(url, { senders: 2, recordsPerRequest: RECORDS_PER_REQUEST, total: Number.MAX_SAFE_INTEGER });
  let daemon = await startDaemonProcess(configFile);
  let up = true;

  // Exported counts as /stats reports them, per daemon process: the longest time without progress.
  let longestStallMs = 0;
  let last = { exported: -1, at: Date.now() };
  const poll = setInterval(() => {
    if (!up) return;
    fetch(`http://127.0.0.1:${telemetryPort}/stats`)
      .then((r) => r.json() as Promise<{ exporters: { clickhouse: { exported: number } } }>)
      .then(({ exporters }) => {
        const now = Date.now();
        if (exporters.clickhouse.exported !== last.exported) last = { exported: exporters.clickhouse.exported, at: now };
        else longestStallMs = Math.max(longestStallMs, now - last.at);
      })
      .catch(() => undefined);
  }, 200);
  t.teardown(() => clearInterval(poll));

  const hostileAcked: { first: number; records: number; poison: number[] }[] = [];
  let hostileAbandoned = 0;
  let stopHostile = false;
  const hostile = (async () => {
    for (let kind = 0, next = 0; !stopHostile; kind++) {
      const req = hostileRequest(kind, next);
      next += 10_000;
      for (;;) {
        const outcome = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: req.body }).then(
          async (r) => (await r.text(), r.status === 200 ? 'acked' : 'refused'),
          (err: { cause?: { code?: string } }) => (err.cause?.code === 'ECONNREFUSED' ? 'refused' : 'lost'),
        );
        if (outcome === 'acked') hostileAcked.push({ first: next - 10_000, records: req.records, poison: req.poison });
        if (outcome === 'lost') hostileAbandoned++;
        if (outcome !== 'refused' || stopHostile) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  load.start();
  for (let kill = 1; kill <= 2; kill++) {
    await new Promise((r) => setTimeout(r, RUN_MS / 3));
    up = false;
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    daemon = await startDaemonProcess(configFile);
    last = { exported: -1, at: Date.now() };
    up = true;
  }
  await new Promise((r) => setTimeout(r, RUN_MS / 3));
  stopHostile = true;
  await Promise.all([load.stop(), hostile]);

  const stats = async () => ((await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { queue_size: number } } }).exporters.clickhouse;
  const drainStarted = Date.now();
  t.ok(await waitFor(async () => (await stats()).queue_size === 0, 120_000), 'the queue drains');
  t.comment(`drained ${Date.now() - drainStarted} ms after the load stopped`);
  t.ok(longestStallMs < 10_000, `exports never stalled: the longest time without progress was ${longestStallMs} ms`);
  up = false;
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'a clean stop at the end');

  const client = embeddedClient(store);
  t.teardown(() => client.close());
  const counts = await storedCounts(client, load, "(SELECT LogAttributes FROM otel.otel_logs WHERE ServiceName = 'loadgen')");
  t.ok(load.ackedRecords > 0, `${load.ackedRecords} normal records acknowledged`);
  t.equal(counts.ackedRows, load.ackedRecords, 'every acknowledged normal record is stored…');
  t.equal(counts.ackedDistinct, load.ackedRecords, '…once');

  const [kinds] = await queryRows<{ n: string; u: string }>(client, "SELECT toString(count()) AS n, toString(uniqExact(LogAttributes['hseq'])) AS u FROM otel.otel_logs WHERE ServiceName = 'hostile'");
  t.equal(kinds!.n, kinds!.u, 'no hostile record is stored twice');
  const stored = new Set((await queryRows<{ h: string }>(client, "SELECT LogAttributes['hseq'] AS h FROM otel.otel_logs WHERE ServiceName = 'hostile'")).map((r) => Number(r.h)));
  const deadLettered = new Set<number>();
  const reasons: string[] = [];
  const dlDir = join(deadLetterDir, 'clickhouse');
  for (const f of (() => {
    try {
      return readdirSync(dlDir);
    } catch {
      return [];
    }
  })()) {
    if (f.endsWith('.sql')) for (const m of readFileSync(join(dlDir, f), 'utf8').matchAll(/"hseq":"(\d+)"/g)) deadLettered.add(Number(m[1]));
    if (f.endsWith('.json')) reasons.push(String((JSON.parse(readFileSync(join(dlDir, f), 'utf8')) as { error: string }).error));
  }
  const missing: number[] = [];
  let poisonStored = 0;
  let poisonDeadLettered = 0;
  for (const h of hostileAcked) {
    for (let i = 0; i < h.records; i++) {
      const seq = h.first + i;
      if (h.poison.includes(seq)) {
        if (stored.has(seq)) poisonStored++;
        if (deadLettered.has(seq)) poisonDeadLettered++;
      } else if (!stored.has(seq)) missing.push(seq);
    }
  }
  const poisonAcked = hostileAcked.reduce((n, h) => n + h.poison.length, 0);
  t.ok(hostileAcked.length >= 4, `${hostileAcked.length} hostile requests acknowledged (${hostileAbandoned} abandoned when the daemon died under them)`);
  t.same(missing, [], 'every acknowledged hostile record that ClickHouse accepts is stored');
  t.equal(poisonStored, 0, 'no record the CONSTRAINT refuses is stored');
  t.equal(poisonDeadLettered, poisonAcked, `all ${poisonAcked} refused records are in the dead-letter directory`);
  t.ok(reasons.length > 0 && reasons.every((r) => /VIOLATED_CONSTRAINT, code 469/.test(r)), 'each dead-letter entry says why: the CONSTRAINT, code 469');
});
