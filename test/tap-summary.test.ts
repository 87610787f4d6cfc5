import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from './support/cli.js';

/** What .ci/run prints last, made by .ci/tap-summary.mjs from the TAP stream of `npm test`. */
function summarize(tap: string): string[] {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, '.ci', 'tap-summary.mjs')], { input: tap, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tap-summary.mjs exited with ${r.status}: ${r.stderr}`);
  return r.stdout.trimEnd().split('\n');
}

// The shapes tap 21 writes: a file is a subtest, a skipped file is `1..0 # SKIP`, and a subtest
// skipped with `{ skip: reason }` is one point without a body.
const FIXTURE = `TAP version 14
# Subtest: dist/test/a.test.js
    # Subtest: group
        ok 1 - leaf pass
        not ok 2 - leaf fail
        ok 3 - leaf skip # SKIP no rsyslogd
        not ok 4 - leaf todo # TODO later
        1..4
    not ok 1 - group
    ok 2 - skipped subtest # SKIP go is not installed
    ok 3 - top pass
    1..3
not ok 1 - dist/test/a.test.js
# Subtest: dist/test/b.test.js
    1..0 # SKIP whole file skipped
ok 2 - dist/test/b.test.js # SKIP whole file skipped
# Subtest: dist/test/c.test.js
    ok 1 - another pass
    1..1
ok 3 - dist/test/c.test.js
1..3
`;

t.test('passes, failures and skips are counted at every depth; todos and closing points are not counted', async (t) => {
  const lines = summarize(FIXTURE);
  t.equal(lines.at(-1), '3 passed, 1 failed, 3 skipped');
  t.same(
    lines.slice(0, -1),
    [
      'skipped: dist/test/a.test.js > group > leaf skip: no rsyslogd',
      'skipped: dist/test/a.test.js > skipped subtest: go is not installed',
      'skipped: dist/test/b.test.js: whole file skipped',
      'todo: dist/test/a.test.js > group > leaf todo: later',
    ],
    'each skip and todo is shown with its reason',
  );
});

t.test('a file that crashed before any assertion counts as a failure', async (t) => {
  const lines = summarize('TAP version 14\n# Subtest: dist/test/x.test.js\n    1..1\nnot ok 1 - dist/test/x.test.js\n1..1\n');
  t.equal(lines.at(-1), '0 passed, 1 failed, 0 skipped');
});

t.test('a real tap run: a skipped subtest is a skip in the summary', async (t) => {
  const file = join(PROJECT_ROOT, 'dist', 'test', 'support', 'tap-skip-sample.js');
  const r = spawnSync(join(PROJECT_ROOT, 'node_modules', '.bin', 'tap'), ['--reporter=tap', '--disable-coverage', file], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  t.equal(summarize(r.stdout).at(-1), '1 passed, 0 failed, 1 skipped', 'the summary of a real tap run');
});
