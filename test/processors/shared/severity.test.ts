import t from 'tap';
import { batchOf, configIssues, processorHarness, recordsOf } from '../../support/processors.js';

t.test('severity words: names of Object.prototype members are not levels', async (t) => {
  const h = await processorHarness('parse', '{}');
  const out = await h.run(
    batchOf({
      records: [
        { body: 'level=toString msg=x' },
        { body: 'level=constructor msg=y' },
        { body: '{"level":"__proto__","msg":"z"}' },
        { body: 'hello', severityText: 'hasOwnProperty' },
        { body: 'level=warn msg=ok' },
      ],
    }),
  );
  t.same(
    recordsOf(out).map((r) => [r.severityNumber, r.severityText]),
    [
      [0, ''],
      [0, ''],
      [0, ''],
      [0, 'hasOwnProperty'],
      [13, 'warn'],
    ],
    'only the real level word sets a severity',
  );
  t.equal(h.stats().severity, 1, 'only the real level is counted as inferred');
  for (const word of ['constructor', 'toString', '__proto__']) {
    t.match(configIssues('filter', `min_severity: ${word}`).join('\n'), /processors\.filter\.min_severity: not a severity/, `min_severity: ${word} is a config error`);
    t.match(configIssues('filter', `logs:\n  log_record:\n    - severity_number < ${word}`).join('\n'), new RegExp(`unknown path "${word}"`), `OTTL ${word} is not a severity enum`);
  }
});
