import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import t from 'tap';
import { PROJECT_ROOT, startDaemonProcess } from './support/cli.js';
import { tempDir } from './support/daemon.js';
import { referenceFiles } from './support/markdown.js';
import { freePort } from './support/ports.js';

/*
 * Runs the runnable examples of the README and of every reference document (docs/*.md and the
 * README.md of each component folder under src/) against a daemon started the way `npm start`
 * starts it: the shipped config/otelhouse.yaml, from the project directory.
 *
 * A runnable block is a ```sh or ```js fence preceded by the line `<!-- test: run -->` (or
 * `<!-- test: run, daemon stopped -->` for a block that needs the daemon stopped first, as the
 * embedded store does). Every ```js block must be marked: JavaScript examples are always runnable.
 * In a shell block, lines starting with `# ` are the documented answer: the block's output must be
 * that (as JSON when it parses). Shell blocks run with `bash -e -o pipefail`, JavaScript blocks as
 * ES modules, both in the project directory, so the pinned packages are the ones imported.
 *
 * The only changes made to a block: the documented ports become free ones and the documented store
 * becomes a temporary one, by the replacements in SUBSTITUTIONS, the same ones given to the daemon
 * through the config's ${env:…} variables. A block still naming a documented port afterwards fails,
 * so that no example ever reaches a daemon this test did not start.
 */

interface Block {
  file: string;
  line: number;
  lang: 'sh' | 'js';
  daemonStopped: boolean;
  code: string;
  expected: string[];
}

const MARK = /^<!-- test: run(, daemon stopped)? -->$/;

function markdownBlocks(file: string, text: string): { runnable: Block[]; unmarkedJs: string[] } {
  const lines = text.split('\n');
  const runnable: Block[] = [];
  const unmarkedJs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)$/.exec(lines[i]!);
    if (!fence || !fence[1]) continue;
    const end = lines.indexOf('```', i + 1);
    const body = lines.slice(i + 1, end);
    const mark = MARK.exec(lines[i - 1] ?? '');
    if (mark && (fence[1] === 'sh' || fence[1] === 'js')) {
      runnable.push({
        file,
        line: i + 1,
        lang: fence[1],
        daemonStopped: mark[1] !== undefined,
        code: body.filter((l) => !(fence[1] === 'sh' && l.startsWith('# '))).join('\n'),
        expected: fence[1] === 'sh' ? body.filter((l) => l.startsWith('# ')).map((l) => l.slice(2)) : [],
      });
    } else if (fence[1] === 'js') {
      unmarkedJs.push(`${file} line ${i + 1}`);
    }
    i = end;
  }
  return { runnable, unmarkedJs };
}

function run(block: Block, code: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, args] = block.lang === 'sh' ? ['bash', ['-e', '-o', 'pipefail', '-c', code]] : [process.execPath, ['--input-type=module', '-e', code]];
  return new Promise((resolve, reject) => {
    // The kill is a guard against a hung example, not an assertion on its duration.
    const child = spawn(cmd as string, args as string[], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (exit) => resolve({ code: exit, stdout, stderr }));
  });
}

function sameAnswer(actual: string, expected: string): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(actual), JSON.parse(expected));
  } catch {
    return actual === expected;
  }
}

const found = referenceFiles().map((file) => markdownBlocks(file, readFileSync(join(PROJECT_ROOT, file), 'utf8')));
const runnable = found.flatMap((f) => f.runnable);
const unmarkedJs = found.flatMap((f) => f.unmarkedJs);

t.test('every JavaScript example of the reference is marked runnable', async (t) => {
  t.same(unmarkedJs, [], '```js blocks without <!-- test: run -->');
  t.ok(runnable.length >= 8, `${runnable.length} runnable blocks: ${[...new Set(runnable.map((b) => b.file))].join(', ')}`);
  t.ok(
    runnable.some((b) => b.lang === 'js'),
    'the SDK example is among the runnable blocks',
  );
  t.ok(
    runnable.some((b) => b.daemonStopped),
    'the query example is among the runnable blocks',
  );
});

const missingTools = ['curl', 'logger'].filter((tool) => spawnSync(tool, ['--version']).error);
const skip = missingTools.length > 0 ? `${missingTools.join(' and ')} not installed (Debian: apt-get install curl bsdutils)` : false;

t.test('the runnable examples give the documented answers against the shipped config', { skip }, async (t) => {
  const dir = tempDir('readme');
  const ports = { grpc: await freePort(), http: await freePort(), json: await freePort(), syslog: await freePort(), telemetry: await freePort(), console: await freePort() };
  const store = join(dir, 'clickhouse');
  const SUBSTITUTIONS: Array<[RegExp, string]> = [
    [/localhost:4317\b/g, `localhost:${ports.grpc}`],
    [/localhost:4318\b/g, `localhost:${ports.http}`],
    [/localhost:3002\b/g, `localhost:${ports.json}`],
    [/localhost:8888\b/g, `localhost:${ports.telemetry}`],
    [/localhost:8080\b/g, `localhost:${ports.console}`],
    [/127\.0\.0\.1:8080\b/g, `127.0.0.1:${ports.console}`],
    [/--port 5514\b/g, `--port ${ports.syslog}`],
    [/'\.\/data\/clickhouse'/g, `'${store}'`],
  ];
  const daemon = await startDaemonProcess(join(PROJECT_ROOT, 'config', 'otelhouse.yaml'), {
    OTELHOUSE_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.grpc}`,
    OTELHOUSE_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.http}`,
    OTELHOUSE_JSON_INGEST_ENDPOINT: `127.0.0.1:${ports.json}`,
    OTELHOUSE_SYSLOG_ENDPOINT: `127.0.0.1:${ports.syslog}`,
    OTELHOUSE_TELEMETRY_ADDRESS: `127.0.0.1:${ports.telemetry}`,
    OTELHOUSE_CONSOLE_ENDPOINT: `127.0.0.1:${ports.console}`,
    OTELHOUSE_CLICKHOUSE_ENDPOINT: `embedded://${store}`,
    OTELHOUSE_QUEUE_DIR: join(dir, 'queue'),
    OTELHOUSE_DEAD_LETTER_DIR: join(dir, 'dead_letter'),
  });
  t.teardown(() => {
    daemon.child.kill('SIGKILL');
  });

  const outputs = new Map<Block, string>();
  const runBlock = async (block: Block) => {
    const code = SUBSTITUTIONS.reduce((c, [from, to]) => c.replace(from, to), block.code);
    const name = `${block.file} line ${block.line} (${block.lang})`;
    if (/\b(4317|4318|3002|5514|8888|8080)\b|\.\/data\//.test(code)) {
      t.fail(`${name} names a documented port or path this test does not replace`, { code });
      return;
    }
    // `otelhouse query` finds the console through the shipped config, as the daemon's does.
    const r = await run(block, code, { OTELHOUSE_CONSOLE_ENDPOINT: `127.0.0.1:${ports.console}` });
    t.equal(r.code, 0, `${name} runs`, { stderr: r.stderr });
    const expected = block.expected.join('\n');
    if (block.expected.length > 0) t.ok(sameAnswer(r.stdout.trim(), expected), `${name} answers ${expected}`, { got: r.stdout });
    outputs.set(block, r.stdout);
  };
  for (const block of runnable.filter((b) => !b.daemonStopped)) await runBlock(block);

  // A garbage syslog line with a NUL byte, sent last so that it is the newest row: the query
  // example lists newest first, and a NUL that cut its output would leave out every other row.
  const udp = createSocket('udp4');
  await new Promise<void>((resolve, reject) => udp.send(Buffer.from('garbage \0 after the NUL'), ports.syslog, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  udp.close();

  // Ctrl-C, as the README says: the daemon drains what it accepted and releases the store.
  daemon.child.kill('SIGINT');
  t.equal(await daemon.exited, 0, 'the daemon drained and exited on SIGINT');

  const queries = runnable.filter((b) => b.daemonStopped);
  for (const block of queries) await runBlock(block);
  const printed = (outputs.get(queries[0]!) ?? '').split('\n');
  const row = (pattern: RegExp) => printed.findIndex((l) => pattern.test(l));
  const nul = row(/'garbage \\x00 after the NUL'/);
  t.ok(nul >= 0, 'the query prints the row with a NUL byte, escaped', { printed });
  const documented: Array<[string, RegExp]> = [
    ['the curl example', /'hello'.*'INFO'.*'Connection timeout after 30s'.*peer: 'db-1'/],
    ['the Node.js SDK example', /'checkout'.*'WARN'.*'Payment retried'\s.*attempt: '2'/],
    ['the json_ingest example', /'checkout'.*'WARN'.*'Payment retried after 3 attempts'/],
    ['the logger example', /'billing'.*'warning'.*'Payment retried'\s/],
  ];
  for (const [name, pattern] of documented) {
    const at = row(pattern);
    t.ok(at > nul, `the query prints the log of ${name}, after the NUL row`, { printed });
  }
  t.match(printed.filter(Boolean).at(-1), /^└/, 'the table is printed to its end');
});
