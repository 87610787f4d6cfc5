// Run by tap-summary.test.ts under the real tap runner: one check that runs, one that cannot.
import t from 'tap';

t.test('a check that runs', async (t) => t.pass('it ran'));
t.test('a check that cannot run here', { skip: 'the tool is not installed' }, async (t) => t.fail('a skipped test must not run'));
