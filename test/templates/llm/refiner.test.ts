import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import t from 'tap';
import { DEFAULT_DATA_DIR } from '../../../bench/accuracy.js';
import { loadConfig } from '../../../src/daemon.js';
import { ConfigError } from '../../../src/config/errors.js';
import type { TemplateRef } from '../../../src/pipeline/model.js';
import { TemplateEngine } from '../../../src/templates/engine.js';
import { LlmRefiner, type AcceptedTemplate, type RefinerOptions } from '../../../src/templates/llm/refiner.js';
import { ProposalValidator } from '../../../src/templates/llm/validator.js';
import { ScriptedLlmServer, templater, type Step } from '../../support/scripted-llm-server.js';

type Provider = 'openai' | 'ollama';

/** What the refiner reported to its host, as the processor turns it into metrics. */
class Recorder {
  retries: Array<{ attempt: number; delayMs: number; reason: string }> = [];
  failures: string[] = [];
  proposals: string[] = [];
  accepted: AcceptedTemplate[] = [];
  dropped = 0;
  requests = { success: 0, failure: 0, promptTokens: 0, completionTokens: 0 };
}

interface Rig {
  engine: TemplateEngine;
  refiner: LlmRefiner;
  server: ScriptedLlmServer;
  seen: Recorder;
  close(): Promise<void>;
}

async function rig(provider: Provider, script: Step[], options: Partial<RefinerOptions> & { timeoutMs?: number } = {}, fallback?: Step): Promise<Rig> {
  const server = await new ScriptedLlmServer(script, fallback).start();
  const seen = new Recorder();
  let engine!: TemplateEngine;
  const refiner = new LlmRefiner(
    {
      provider: { provider, endpoint: server.endpoint(provider), model: 'test-model', apiKey: 'sk-test', timeoutMs: options.timeoutMs ?? 5000 },
      batchSize: 10,
      batchTimeoutMs: 100,
      maxConcurrentBatches: 5,
      maxRetries: 3,
      initialBackoffMs: 50,
      maxQueue: 10_000,
      dailyRequestBudget: 0,
      maxWildcardRatio: 0.6,
      masking: [],
      ...options,
    },
    {
      adopt: (set, tokens) => engine.adopt(set, tokens, 'llm'),
      publish: () => engine.publish(),
      accepted: (a) => seen.accepted.push(a),
      dropped: () => seen.dropped++,
      request: (outcome, p, c) => {
        seen.requests[outcome]++;
        seen.requests.promptTokens += p;
        seen.requests.completionTokens += c;
      },
      retry: (attempt, delayMs, reason) => seen.retries.push({ attempt, delayMs, reason }),
      failure: (reason) => seen.failures.push(reason),
      proposal: (result, reason) => seen.proposals.push(reason ? `${result}:${reason}` : result),
    },
    pino({ level: 'silent' }),
  );
  engine = new TemplateEngine({ miner: {}, parallelThreshold: 1000, poolSize: 0, masking: [], candidates: refiner });
  return {
    engine,
    refiner,
    server,
    seen,
    close: async () => {
      await refiner.close();
      await engine.close();
      await server.close();
    },
  };
}

/** Distinct one-template messages: each is mined as a new template and offered once. */
function distinct(n: number, tag = 'event'): string[] {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
  return Array.from({ length: n }, (_, i) => `${tag} ${words[i % words.length]} ${'happened '.repeat(1 + Math.floor(i / words.length)).trim()}`);
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const provider of ['openai', 'ollama'] as const) {
  t.test(`${provider}: batches by size, and by time for a partial batch`, async (t) => {
    const r = await rig(provider, [], { batchSize: 3, batchTimeoutMs: 60_000 });
    t.teardown(() => r.close());
    await r.engine.assign('', distinct(6));
    await r.refiner.idle();
    t.same(
      r.server.requests.map((q) => q.messages.length),
      [3, 3],
      'six candidates went as two requests of three, without waiting for the timeout',
    );
    t.same(
      r.server.requests.map((q) => q.path),
      provider === 'openai' ? ['/v1/chat/completions', '/v1/chat/completions'] : ['/api/generate', '/api/generate'],
    );
    t.equal(r.server.requests[0]!.model, 'test-model');
    if (provider === 'openai') t.equal(r.server.requests[0]!.authorization, 'Bearer sk-test', 'the API key is sent as a bearer token');
    t.same(r.seen.requests, { success: 2, failure: 0, promptTokens: 240, completionTokens: 60 }, 'tokens the provider reported are counted');

    const timed = await rig(provider, [], { batchSize: 10, batchTimeoutMs: 250 });
    t.teardown(() => timed.close());
    const offered = Date.now();
    await timed.engine.assign('', distinct(2, 'late'));
    await timed.refiner.idle();
    t.equal(timed.server.requests.length, 1, 'a partial batch is sent once');
    t.equal(timed.server.requests[0]!.messages.length, 2);
    t.ok(timed.server.requests[0]!.at - offered >= 245, `sent after the batch timeout (${timed.server.requests[0]!.at - offered} ms)`);
  });

  t.test(`${provider}: at most max_concurrent_batches requests at once; a full queue drops, never blocks`, async (t) => {
    const answer: Step = { held: { text: '{"templates":[]}' } };
    const r = await rig(provider, [], { batchSize: 1, batchTimeoutMs: 0, maxConcurrentBatches: 2, maxQueue: 3 }, answer);
    t.teardown(() => r.close());
    await r.engine.assign('', distinct(7));
    await until(() => r.server.requests.length === 2);
    t.equal(r.refiner.inFlight, 2, 'two batches in flight');
    t.equal(r.refiner.queueDepth, 3, 'the queue holds max_queue candidates');
    t.equal(r.seen.dropped, 2, 'the two candidates beyond the queue were dropped and counted');
    t.equal(r.server.requests.length, 2, 'no third request while two are held');
    const idle = r.refiner.idle();
    let settled = false;
    void idle.then(() => (settled = true));
    while (!settled) {
      r.server.release();
      await new Promise((res) => setTimeout(res, 5));
    }
    t.equal(r.server.requests.length, 5, 'every queued candidate was reviewed');
    t.equal(r.server.maxConcurrent, 2, 'the server never saw more than two requests at once');
  });

  t.test(`${provider}: retries 5xx and 429 with exponential back-off and ±10 % jitter, honours Retry-After`, async (t) => {
    const r = await rig(provider, [{ status: 500 }, { status: 503 }, { status: 429, headers: { 'retry-after': '1' } }], { initialBackoffMs: 100, maxRetries: 3 }, { answer: templater([]) });
    t.teardown(() => r.close());
    await r.engine.assign('', distinct(1));
    await r.refiner.idle();
    const at = r.server.requests.map((q) => q.at);
    t.equal(at.length, 4, 'three failures, then the answer');
    t.same(
      r.seen.retries.map((x) => x.attempt),
      [1, 2, 3],
    );
    const [d1, d2, d3] = r.seen.retries.map((x) => x.delayMs) as [number, number, number];
    t.ok(d1 >= 90 && d1 <= 110, `first back-off ${d1.toFixed(1)} ms is 100 ms ± 10 %`);
    t.ok(d2 >= 180 && d2 <= 220, `second back-off ${d2.toFixed(1)} ms is 200 ms ± 10 %`);
    t.equal(d3, 1000, 'a 429 waits what Retry-After says');
    t.ok(at[1]! - at[0]! >= d1 - 2 && at[2]! - at[1]! >= d2 - 2 && at[3]! - at[2]! >= d3 - 2, 'no attempt came before its back-off ended');
    t.same(r.seen.failures, [], 'no give-up');
    t.equal(r.seen.requests.failure, 3);
  });

  t.test(`${provider}: gives up after max_retries with the reason, puts the batch back once after a cool-down; jitter varies the back-off`, async (t) => {
    const r = await rig(provider, [], { initialBackoffMs: 10, maxRetries: 6 }, { status: 500 });
    t.teardown(() => r.close());
    await r.engine.assign('', distinct(1));
    await r.refiner.idle();
    t.equal(r.server.requests.length, 14, 'the first attempt and six retries, twice (put back once), then no more');
    t.same(r.seen.failures, ['http_500', 'http_500'], 'each give-up is counted with its reason');
    const first = r.server.requests[6]!.at;
    const second = r.server.requests[7]!.at;
    t.ok(second - first >= 10 * 2 ** 7 - 2, `the put-back batch waited for the cool-down (${second - first} ms)`);
    const ratios = r.seen.retries.slice(0, 6).map((x, k) => x.delayMs / (10 * 2 ** k));
    t.ok(
      ratios.every((q) => q >= 0.9 && q <= 1.1),
      `each back-off is 10 ms × 2^k ± 10 % (${ratios.map((q) => q.toFixed(3)).join(', ')})`,
    );
    t.ok(new Set(ratios.map((q) => q.toFixed(6))).size > 1, 'the jitter is random');
    await r.engine.assign('', distinct(1));
    await r.refiner.idle();
    t.equal(r.server.requests.length, 14, 'a template given up on twice is not sent again');
  });

  t.test(`${provider}: timeouts, non-JSON replies and malformed answers are retried; client errors are not`, async (t) => {
    const hanging = await rig(provider, [], { timeoutMs: 150, initialBackoffMs: 10, maxRetries: 1 }, { hang: true });
    t.teardown(() => hanging.close());
    await hanging.engine.assign('', distinct(1));
    await hanging.refiner.idle();
    t.equal(hanging.server.requests.length, 4, 'a timed-out request is retried, and the batch is tried once more later');
    t.same(hanging.seen.failures, ['timeout', 'timeout']);

    const odd = await rig(provider, [{ body: 'null' }, { body: '[1,2]' }], { initialBackoffMs: 10 }, { answer: templater([]) });
    t.teardown(() => odd.close());
    await odd.engine.assign('', distinct(1));
    await odd.refiner.idle();
    t.equal(odd.server.requests.length, 3, "replies that are not the provider's JSON object are retried, and nothing crashes");
    t.same(odd.seen.failures, []);

    const malformed = await rig(provider, [{ text: 'Sure! Here are the templates: {"templates": [' }, { text: '{"templates": "none"}' }], { initialBackoffMs: 10 }, { answer: templater(['bravo']) });
    t.teardown(() => malformed.close());
    await malformed.engine.assign('', ['event alpha happened', 'event bravo happened']);
    await malformed.refiner.idle();
    t.equal(malformed.server.requests.length, 3, 'two malformed answers, then a good one');
    t.same(
      malformed.seen.retries.map((x) => x.reason.startsWith('malformed answer')),
      [true, true],
    );
    t.same(malformed.seen.failures, []);

    const refused = await rig(provider, [{ status: 401 }], { initialBackoffMs: 10 });
    t.teardown(() => refused.close());
    await refused.engine.assign('', distinct(1));
    await refused.refiner.idle();
    t.equal(refused.server.requests.length, 1, 'a 401 is not retried, nor put back');
    t.same(refused.seen.failures, ['http_401']);
  });

  t.test(`${provider}: the daily request budget caps requests; over-long messages are not sent`, async (t) => {
    const r = await rig(provider, [], { batchSize: 1, batchTimeoutMs: 0, dailyRequestBudget: 2 });
    t.teardown(() => r.close());
    await r.engine.assign('', distinct(4));
    await until(() => r.refiner.inFlight === 0 && r.server.requests.length === 2);
    t.equal(r.refiner.queueDepth, 2, 'past the budget, candidates wait in the queue');
    await new Promise((res) => setTimeout(res, 50));
    t.equal(r.server.requests.length, 2, 'no third request today');

    const long = await rig(provider, []);
    t.teardown(() => long.close());
    await long.engine.assign('', [`event ${'x'.repeat(3000)} happened`]);
    await long.refiner.idle();
    t.equal(long.seen.dropped, 1, 'a message over 2,048 characters is dropped and counted');
    t.equal(long.server.requests.length, 0);
  });

  t.test(`${provider}: only valid proposals enter the template set; records keep their ids, lineage links them`, async (t) => {
    const find = (messages: string[], text: string) => messages.indexOf(text);
    const answer = (m: string[]) => [
      { template: 'User <*> logged in', logs: [find(m, 'User alice logged in'), find(m, 'User bob logged in')] },
      { template: 'Disk <*> <*>', logs: [find(m, 'Disk sda1 full'), find(m, 'Disk quota exceeded')] },
      { template: 'Connection closed by <*>', logs: [find(m, 'Connection timeout after 30s')] },
      { template: '<*> <*> <*>', logs: [find(m, 'Disk sda1 full')] },
      { template: 'User {name} logged in', logs: [find(m, 'User alice logged in')] },
      { template: 'Connection timeout after <*>s', logs: [find(m, 'Connection timeout after 30s')] },
    ];
    const r = await rig(provider, [{ answer }]);
    t.teardown(() => r.close());
    const first = await r.engine.assign('', ['User alice logged in', 'User bob logged in', 'Disk sda1 full', 'Disk quota exceeded', 'Connection timeout after 30s']);
    const ids = first.map((a) => a.template!.id);
    t.equal(new Set(ids).size, 5, 'the miner keeps five templates (it cannot tell a user name from a word yet)');
    await r.refiner.idle();
    t.equal(r.server.requests.length, 1, 'one request for the five candidates');
    t.same(
      r.seen.proposals.sort(),
      ['accepted', 'rejected:all_wildcards', 'rejected:no_match', 'rejected:no_match', 'rejected:too_broad', 'unchanged'],
      'one accepted; too broad, all-wildcard and non-matching proposals rejected; a proposal equal to the mined template changes nothing',
    );
    t.equal(r.seen.accepted.length, 1);
    const accepted = r.seen.accepted[0]!.template;
    t.equal(accepted.text, 'User <*> logged in');
    t.equal(accepted.source, 'llm');
    t.same([...accepted.replaced].sort(), [ids[0]!, ids[1]!].sort(), 'the lineage links the templates it replaced');

    const later = await r.engine.assign('', ['User carol logged in', 'User alice logged in', 'Disk sda1 full', 'Disk quota exceeded']);
    const ref = (k: number): TemplateRef => later[k]!.template!;
    t.equal(ref(0).id, accepted.id, 'a new user matches the LLM template');
    t.equal(ref(1).id, accepted.id, 'so does a user the miner had a template for');
    t.same(later[0]!.params, ['carol']);
    t.equal(ref(2).id, ids[2], '"Disk sda1 full" keeps its own template');
    t.equal(ref(3).id, ids[3], '"Disk quota exceeded" keeps its own template');
    t.equal(first[0]!.template!.id, ids[0], 'what was assigned before keeps its id');
  });
}

const ACCURACY = fileURLToPath(new URL('../../../bench/accuracy.js', import.meta.url));

function runAccuracy(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ACCURACY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

const HAVE_DATA = existsSync(path.join(DEFAULT_DATA_DIR, 'datasets.json'));

t.test('the accuracy harness runs with the LLM on when given a URL, and says it skipped it otherwise', { skip: HAVE_DATA ? false : `no labelled datasets at ${DEFAULT_DATA_DIR}` }, async (t) => {
  const without = await runAccuracy(['--only', 'Apache']);
  t.equal(without.code, 0, without.out);
  t.match(without.out, /with LLM refinement: skipped \(no --llm URL given/);

  // The stand-in "model" makes every token with a digit a variable.
  const digits = (messages: string[]) =>
    templater([])(
      messages.map((m) =>
        m
          .split(' ')
          .map((w) => (/\d/.test(w) ? '0' : w))
          .join(' '),
      ),
    );
  const server = await new ScriptedLlmServer([], { answer: digits }).start();
  t.teardown(() => server.close());
  const withLlm = await runAccuracy(['--only', 'Apache', '--llm', server.endpoint('ollama'), '--llm-provider', 'ollama', '--llm-model', 'stand-in']);
  t.equal(withLlm.code, 0, withLlm.out);
  t.match(withLlm.out, /accuracy — with LLM refinement \(ollama, stand-in at http:\/\/127\.0\.0\.1:\d+\)/);
  t.match(withLlm.out, /\| Apache \| 2000 \| 6 \| \d+ \| [01]\.\d{4} \| [01]\.\d{4} \|/);
  t.ok(server.requests.length > 0, `the harness asked the LLM (${server.requests.length} requests)`);
  t.match(withLlm.out, new RegExp(`LLM: ${server.requests.length} requests \\(0 failed\\), \\d+ templates accepted`));
});

t.test('templates.llm config: defaults, and errors that name the key', async (t) => {
  const yaml = (llm: string) => `
receivers: { json_ingest: {} }
processors: { templates: { llm: ${llm} } }
exporters: { debug: {} }
service: { pipelines: { logs: { receivers: [json_ingest], processors: [templates], exporters: [debug] } } }
`;
  const config = loadConfig({ text: yaml('{ provider: ollama, model: llama3.1, api_key: "${env:LLM_KEY}" }') }, { LLM_KEY: 'secret' });
  t.match(config.processors.get('templates')!.config, {
    llm: {
      provider: 'ollama',
      model: 'llama3.1',
      api_key: 'secret',
      batch_size: 10,
      batch_timeout: 2000,
      max_concurrent_batches: 5,
      max_retries: 3,
      initial_backoff: 1000,
      timeout: 30_000,
      max_queue: 10_000,
      daily_request_budget: 0,
    },
  });
  t.equal((config.processors.get('templates')!.config as { llm: { endpoint?: string } }).llm.endpoint, undefined, 'the endpoint defaults per provider');
  let issues: string[] = [];
  try {
    loadConfig({ text: yaml('{ provider: gemini, endpoint: "ftp://x", batch_size: 0, timeout: soon, temperature: 1 }') }, {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    issues = err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  t.match(issues.sort(), [
    /^processors\.templates\.llm\.batch_size: /,
    /^processors\.templates\.llm\.endpoint: not an http\(s\) URL/,
    /^processors\.templates\.llm\.model: required: the model name/,
    /^processors\.templates\.llm\.provider: must be openai or ollama/,
    /^processors\.templates\.llm\.temperature: unknown key/,
    /^processors\.templates\.llm\.timeout: not a duration/,
  ]);
  t.equal(issues.length, 6, issues.join('\n'));
});

t.test('validation matches <*> inside a token in linear time, and re-spells proposals in our masking', async (t) => {
  const validator = new ProposalValidator([], 0.6);
  const word = 'a'.repeat(80);
  const hostile = `user ${'a<*>'.repeat(40)}b logged in`;
  t.match(validator.check(hostile, [`user ${word} logged in`]), { ok: false, reason: 'no_match' }, 'a backtracking-prone glob is refused (and returns)');
  t.match(
    validator.check('Connection timeout after <*>s', ['Connection timeout after 30s', 'Connection timeout after 5s']),
    { ok: true, text: 'Connection timeout after <*>' },
    '<*>s over differing values becomes a whole <*>',
  );
  t.match(validator.check('connect to 10.0.0.1', ['connect to 10.0.0.1']), { ok: true, text: 'connect to <*>' }, 'a literal we mask is spelled masked');
  t.match(validator.check('block blk_<*> done', ['block blk_-42 done', 'block blk_7 done']), { ok: true, text: 'block <*> done' }, 'an id is masked whole');
  t.match(validator.check('from <*> (<*>)', ['from 10.0.0.1 (alpha.example)', 'from 10.0.0.2 (beta.example)']), { ok: true, text: 'from <*> (<*>)' }, 'a frame is kept');
});

t.test('reloading stored LLM templates does not re-adopt the ones held', async (t) => {
  const engine = new TemplateEngine({ miner: {}, parallelThreshold: 1000, poolSize: 0, masking: [] });
  t.teardown(() => engine.close());
  const [alice] = await engine.assign('', ['User alice logged in']);
  engine.seed('', 'User <*> logged in', 3, 'llm');
  engine.publish();
  const [carol] = await engine.assign('', ['User carol logged in']);
  t.equal(carol!.template!.source, 'llm');
  t.ok(carol!.template!.replaced.includes(alice!.template!.id), 'seeding an LLM template folds the mined one it covers');
  const dirty = (engine as unknown as { dirty: Set<string> }).dirty;
  engine.seed('', 'User <*> logged in', 3, 'llm');
  t.equal(dirty.size, 0, 'a template already held is left alone: no new snapshot on every refresh');
});
