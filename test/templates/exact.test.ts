import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_DATA_DIR } from '../../bench/accuracy.js';
import { TemplateEngine, render } from '../../src/templates/engine.js';
import { embeddedClient, queryRows, startTestDaemon, tempDir, waitFor } from '../support/daemon.js';

/*
 * TemplateParams are exact: a row's template (its TemplateId's text) with the `<*>` filled in
 * order by its parameters is its Body, byte for byte — or the row has no template, counted.
 */

const haveData = existsSync(path.join(DEFAULT_DATA_DIR, 'datasets.json'));

function datasetMessages(): Array<[string, string[]]> {
  const specs = JSON.parse(readFileSync(path.join(DEFAULT_DATA_DIR, 'datasets.json'), 'utf8')) as Record<string, { log: string }>;
  return Object.entries(specs).map(([name, spec]) => {
    const lines = readFileSync(path.join(DEFAULT_DATA_DIR, spec.log), 'utf8').split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
    // The whole line, header and all: its spacing (padded days, double spaces) is what is hard.
    return [name, lines];
  });
}

/** Lines a generator makes from pieces real logs have, spaced and quoted every which way. */
function fuzzLines(n: number, seed: number): string[] {
  let state = seed;
  const random = () => (state = (Math.imul(state, 48271) >>> 0) % 2147483647) / 2147483647;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const words = ['connection', 'from', 'user', 'failed', 'Accepted', 'password', 'for', 'session', 'opened', 'closed', 'ERROR', 'WARN', 'size', 'блок', '接続', 'naïve', 'café', '🙂', 'x'];
  const pieces: Array<() => string> = [
    () => pick(words),
    () => pick(words),
    () => String(Math.floor(random() * 100_000)),
    () => `${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.0.${Math.floor(random() * 256)}:${Math.floor(random() * 65_536)}`,
    () =>
      Math.floor(random() * 2 ** 32)
        .toString(16)
        .padStart(8, '0'),
    () => `user=${pick(words)}${Math.floor(random() * 9)}`,
    () => `"${pick(words)} ${pick(words)}"`,
    () => `'${pick(words)}'`,
    () => `(${pick(words)})`,
    () => `[${Math.floor(random() * 9)}]`,
    () => `${pick(words)},`,
    () => '<*>',
    () => `a<*>b${Math.floor(random() * 9)}`,
    () => 'Jul  4 12:52:44',
    () => `-${Math.floor(random() * 99)}`,
    () => 'blk_-4242',
    () => `${Math.floor(random() * 5000)} ${pick(['bytes', 'KB', 'B', 'ms', 'sec'])}`,
    () => `${Math.floor(random() * 5000)} bytes (${(random() * 5).toFixed(2)} KB)${pick(['', ',', ')'])}`,
    () => `<${Math.floor(random() * 9)} sec`,
    () => `/var/${pick(words)}/${Math.floor(random() * 9)}.log${pick(['', ':', "'"])}`,
    () => `core.${Math.floor(random() * 9999)}`,
    () => `tty=${pick(words)}`,
    () => pick(['()', '[]', '""', "''"]),
    () => `U${Math.floor(random() * 20)}`,
  ];
  const gaps = [' ', ' ', ' ', ' ', '  ', '\t', ' \t ', '   '];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const shape = Math.floor(random() * 40);
    let line = random() < 0.05 ? pick(gaps) : '';
    const tokens = 1 + ((shape * 7) % 12);
    for (let k = 0; k < tokens; k++) {
      if (k > 0) line += random() < 0.85 ? ' ' : pick(gaps);
      line += k % 3 === 0 ? pick(words) : pick(pieces)();
    }
    if (random() < 0.05) line += pick(gaps);
    lines.push(line);
  }
  return lines;
}

async function checkRoundTrip(t: Test, engine: TemplateEngine, what: string, lines: string[], batch: number): Promise<void> {
  let withTemplate = 0;
  const wrong: string[] = [];
  for (let i = 0; i < lines.length; i += batch) {
    const chunk = lines.slice(i, i + batch);
    const assignments = await engine.assign('s', chunk);
    assignments.forEach((a, k) => {
      if (!a.template) return;
      withTemplate++;
      if (render(a.template.text, a.params) !== chunk[k]) wrong.push(chunk[k]!);
    });
  }
  t.same(wrong.slice(0, 5), [], `${what}: template + parameters give back every message (${withTemplate} of ${lines.length} with a template, ${lines.length - withTemplate} without)`);
}

t.test('over all the sample data, inline and on the worker pool', { skip: haveData ? false : `no sample data at ${DEFAULT_DATA_DIR}` }, async (t) => {
  for (const [poolSize, batch] of [
    [0, 2000],
    [2, 2000],
  ] as const) {
    const engine = new TemplateEngine({ miner: {}, parallelThreshold: 1000, poolSize, masking: [] });
    for (const [name, lines] of datasetMessages()) await checkRoundTrip(t, engine, `${name}${poolSize ? ', pool' : ''}`, lines, batch);
    await engine.close();
  }
});

t.test('a 100,000-line fuzz of spacing, tabs, quotes, unicode, units, paths, brackets and literal <*>', async (t) => {
  const lines = fuzzLines(100_000, 20261202);
  t.ok(
    lines.some((l) => l.includes('\t')) && lines.some((l) => l.includes('  ')) && lines.some((l) => l.includes('<*>')) && lines.some((l) => /^\s|\s$/.test(l)),
    'the fuzz has tabs, runs of spaces, literal <*> and blank ends',
  );
  const engine = new TemplateEngine({ miner: {}, parallelThreshold: 1000, poolSize: 2, masking: [] });
  await checkRoundTrip(t, engine, 'fuzz', lines, 5000);
  t.ok(engine.counters.unrenderable > 0, `messages that cannot come back are stored without a template, counted (${engine.counters.unrenderable})`);
  await engine.close();
});

t.test('in the stored rows: TemplateId text + TemplateParams = Body; spacing variants group with their template', async (t) => {
  const store = tempDir('exact');
  const daemon = await startTestDaemon(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
processors:
  templates: {}
  batch: { send_batch_size: 1000, timeout: 50ms }
exporters:
  clickhouse: { endpoint: "embedded://${store}" }
service:
  pipelines: { logs: { receivers: [otlp], processors: [templates, batch], exporters: [clickhouse] } }
  telemetry: { metrics: { address: 127.0.0.1:0 } }
`);
  t.teardown(() => daemon.stop());
  const post = async (bodies: string[]) => {
    const body = JSON.stringify({ resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: {}, logRecords: bodies.map((b) => ({ body: { stringValue: b } })) }] }] });
    t.equal((await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })).status, 200);
  };
  await post(Array.from({ length: 10 }, (_, i) => `session opened for user u${i}`));
  const spaced = ['session  opened for user bob', 'session opened\tfor user carol', ' session opened for user dave', 'session opened for user eve ', 'session opened for user frank'];
  await post(spaced);
  const client = embeddedClient(store);
  t.teardown(() => client.close());
  const rows = async () => {
    await client.command({ query: 'SYSTEM RELOAD DICTIONARIES' });
    return queryRows<{ Body: string; TemplateParams: string[]; text: string; current: string; Template: string }>(
      client,
      "SELECT Body, TemplateParams, dictGet('otel.log_templates_text_dict', 'Text', TemplateId) AS text, toString(CurrentTemplateId) AS current, Template FROM otel.otel_logs",
    );
  };
  // Exported counts a batch once its rows and the templates insert carrying their lineage are in.
  const exported = async () =>
    ((await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { exporters: { clickhouse: { exported?: number } } }).exporters.clickhouse.exported ?? 0;
  t.ok(await waitFor(async () => (await exported()) >= 15), 'exported, with their templates');
  t.equal((await rows()).filter((r) => r.text !== '').length, 15, 'stored, with their templates');
  const stored = await rows();
  for (const r of stored) t.equal(render(r.text, r.TemplateParams), r.Body, `${JSON.stringify(r.Body)}: its template ${JSON.stringify(r.text)} with ${JSON.stringify(r.TemplateParams)}`);
  t.equal(
    new Set(stored.filter((r) => spaced.includes(r.Body)).map((r) => r.text)).size,
    5,
    'five spellings of the template: a double space, a tab, a leading and a trailing blank, and single spaces',
  );
  t.equal(new Set(stored.map((r) => r.current)).size, 1, 'one current template for all fifteen, the early per-user ones included');
  t.same([...new Set(stored.map((r) => r.Template))], ['session opened for user <*>'], 'shown with single spaces');
});
