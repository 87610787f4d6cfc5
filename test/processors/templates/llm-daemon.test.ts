import t from 'tap';
import type { JsonIngestReceiver } from '../../../src/receivers/json_ingest/json-ingest-receiver.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, templatesPipelineYaml, waitFor, type RunningDaemon } from '../../support/daemon.js';
import { ScriptedLlmServer, templater } from '../../support/scripted-llm-server.js';

function daemonYaml(path: string, llm = '', pool = 'pool_size: 0'): string {
  return templatesPipelineYaml(path, `${pool}${llm ? `, llm: { ${llm} }` : ''}`);
}

const KINDS = [
  (i: number) => `Connection timeout after ${i % 50} seconds to db-${i % 3}.internal:5432`,
  (i: number) => `session opened for user ${['alice', 'bob', 'carol', 'dave', 'erin'][i % 5]} by (uid=${1000 + i})`,
  (i: number) => `Worker ${['north', 'south', 'east', 'west'][i % 4]} moved to state ${['IDLE', 'BUSY', 'DRAINING'][i % 3]}`,
  (i: number) => `cache ${['hit', 'miss'][i % 2]} for key product:${i}`,
  (i: number) => `job ${['export', 'import', 'reindex', 'vacuum', 'backup', 'restore'][i % 6]} finished with status ${['ok', 'failed'][i % 2]}`,
];

function messages(from: number, n: number): string[] {
  return Array.from({ length: n }, (_, k) => KINDS[(from + k) % KINDS.length]!(from + k));
}

async function post(d: RunningDaemon, lines: string[], service = 'app', firstSeq = 0): Promise<{ accepted: number }> {
  const port = (d.service.receivers[0]!.component as JsonIngestReceiver).port;
  const body = { logs: lines.map((message, k) => ({ org: 'acme', service, message, metadata: { seq: firstSeq + k } })) };
  const res = await fetch(`http://127.0.0.1:${port}/logs/ingest`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as { accepted: number };
}

async function stats(d: RunningDaemon): Promise<Record<string, number>> {
  const s = (await (await fetch(`http://127.0.0.1:${d.telemetryPort}/stats`)).json()) as { processors: Record<string, Record<string, number>> };
  return s.processors['templates']!;
}

/** Sends 40 requests of 50 records; returns what json_ingest accepted. */
async function load(d: RunningDaemon): Promise<number> {
  let accepted = 0;
  for (let r = 0; r < 40; r++) accepted += (await post(d, messages(r * 50, 50), 'app', r * 50)).accepted;
  return accepted;
}

async function storedTemplates(path: string): Promise<Map<string, string>> {
  const client = embeddedClient(path);
  const rows = await queryRows<{ seq: string; id: string }>(client, `SELECT LogAttributes['seq'] AS seq, toString(TemplateId) AS id FROM otel.otel_logs`);
  await client.close();
  return new Map(rows.map((r) => [r.seq, r.id]));
}

t.test("a hanging LLM endpoint changes nothing for ingestion: every record is exported with the miner's template", async (t) => {
  const controlPath = tempDir('llm-control');
  const control = await startTestDaemon(daemonYaml(controlPath));
  t.equal(await load(control), 2000);
  await control.stop();
  const expected = await storedTemplates(controlPath);
  t.equal(expected.size, 2000, 'the run without an LLM stored every record');

  const llm = await new ScriptedLlmServer([], { hang: true }).start();
  t.teardown(() => llm.close());
  const path = tempDir('llm-hang');
  const daemon = await startTestDaemon(
    daemonYaml(path, `provider: openai, endpoint: "${llm.endpoint('openai')}", model: m, batch_size: 1, batch_timeout: 0s, max_concurrent_batches: 2, max_queue: 3, timeout: 10m`),
  );
  t.equal(await load(daemon), 2000, 'every request was accepted while the LLM did not answer');
  const during = await stats(daemon);
  t.equal(llm.requests.length, 2, 'the LLM holds max_concurrent_batches requests, unanswered');
  t.equal(llm.inFlight, 2);
  t.equal(during.llm_queue_size, 3, 'the candidate queue is full');
  t.ok(during.llm_dropped > 0, `candidates beyond max_queue were dropped (${during.llm_dropped}), not waited for`);
  t.equal(during.matched + during.mined, 2000, 'the templates processor handled every record');
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_processor_templates_llm_queue_size\{processor="templates"\} 3/);
  t.match(metrics, /otelhouse_processor_templates_llm_dropped_total\{processor="templates",reason="queue_full"\} [1-9]/);
  await daemon.stop();
  const stored = await storedTemplates(path);
  t.equal(stored.size, 2000, 'every record was stored');
  let same = 0;
  for (const [seq, id] of stored) if (expected.get(seq) === id) same++;
  t.equal(same, 2000, 'every record has the template the miner alone gives it');
});

t.test('an accepted LLM template is stored with source llm and its lineage; earlier records keep their ids; a restart loads it', async (t) => {
  const llm = await new ScriptedLlmServer([], { answer: templater(['alice', 'bob', 'carol', 'dave', 'erin']) }).start();
  t.teardown(() => llm.close());
  const path = tempDir('llm-accept');
  const llmConfig = `provider: ollama, endpoint: "${llm.endpoint('ollama')}", model: m, batch_timeout: 100ms`;
  // Matched on the worker pool: the accepted template must reach the workers' snapshot.
  const pooled = 'pool_size: 2, parallel_threshold: 1';
  let daemon = await startTestDaemon(daemonYaml(path, llmConfig, pooled));
  await post(daemon, ['User alice logged in', 'User bob logged in', 'Disk sda1 full', 'Disk quota exceeded'], 'before');
  t.ok(await waitFor(async () => (await stats(daemon)).llm_accepted >= 1), 'the LLM template was accepted');
  await post(daemon, ['User carol logged in', 'User alice logged in'], 'after');
  await daemon.stop();

  let client = embeddedClient(path);
  const rows = await queryRows<{ ServiceName: string; Body: string; id: string }>(client, `SELECT ServiceName, Body, toString(TemplateId) AS id FROM otel.otel_logs`);
  const templates = await queryRows<{ id: string; text: string; source: string; replaced: string[] }>(
    client,
    `SELECT toString(TemplateId) AS id, anyLast(Text) AS text, anyLast(Source) AS source, arrayMap(x -> toString(x), groupUniqArrayArray(ReplacedIds)) AS replaced FROM otel.log_templates GROUP BY TemplateId`,
  );
  await client.close();
  const idOf = (service: string, body: string) => rows.find((r) => r.ServiceName === service && r.Body === body)!.id;
  const llmTemplate = templates.find((x) => x.text === 'User <*> logged in');
  t.ok(llmTemplate, 'log_templates holds the LLM template');
  t.equal(llmTemplate!.source, 'llm');
  t.same([...llmTemplate!.replaced].sort(), [idOf('before', 'User alice logged in'), idOf('before', 'User bob logged in')].sort(), 'its lineage names the templates it replaced');
  t.not(idOf('before', 'User alice logged in'), llmTemplate!.id, 'records stored before keep their old template id');
  t.equal(idOf('after', 'User carol logged in'), llmTemplate!.id, 'records after it use the LLM template');
  t.equal(idOf('after', 'User alice logged in'), llmTemplate!.id);
  t.ok(
    templates.filter((x) => x.id !== llmTemplate!.id).every((x) => x.source === 'miner'),
    "the other templates are the miner's",
  );
  t.not(idOf('before', 'Disk sda1 full'), idOf('before', 'Disk quota exceeded'), 'different events keep different templates');

  daemon = await startTestDaemon(daemonYaml(path, '', pooled));
  await post(daemon, ['User dave logged in', 'User erin logged in'], 'restart');
  await daemon.stop();
  client = embeddedClient(path);
  const restarted = await queryRows<{ id: string }>(client, `SELECT toString(TemplateId) AS id FROM otel.otel_logs WHERE ServiceName = 'restart'`);
  await client.command({ query: 'SYSTEM RELOAD DICTIONARIES' });
  const current = await queryRows<{ current: string; n: string; roots: string }>(
    client,
    `SELECT toString(CurrentTemplateId) AS current, toString(count()) AS n,
            toString(countIf(CurrentTemplateId NOT IN (SELECT Id FROM otel.log_templates_lineage))) AS roots
     FROM otel.otel_logs WHERE Body LIKE 'User % logged in' GROUP BY CurrentTemplateId`,
  );
  await client.close();
  t.same(
    restarted.map((r) => r.id),
    [llmTemplate!.id, llmTemplate!.id],
    'a restarted daemon without the LLM loads and uses the LLM template',
  );
  t.same(current, [{ current: llmTemplate!.id, n: '6', roots: '6' }], 'every "User … logged in" row, before the adoption, after it and after the restart, resolves to the LLM template, a root');
});
