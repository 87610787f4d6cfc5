import { z } from 'zod';
import { section } from '../../config/types.js';
import { errorMessage } from '../../pipeline/errors.js';
import { filterMatchSchema } from '../shared/match.js';
import { severitySchema } from '../shared/severity.js';
import { compileCondition } from './ottl.js';

const ERROR_MODES = ['ignore', 'silent', 'propagate'] as const;

const conditionSchema = z.string({ error: 'expected an OTTL condition (a string)' }).transform((text, ctx) => {
  try {
    return { text, test: compileCondition(text) };
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
    return z.NEVER;
  }
});

export const filterConfigSchema = section({
  /**
   * What a condition that fails to evaluate on a record does: `ignore` keeps the record and logs
   * the error, `silent` keeps it without logging, `propagate` refuses the whole batch, unchanged,
   * as invalid data (a client error to the sender, never retried). (The OTel Collector defaults
   * to propagate; here one bad record must not cost its neighbours, see docs/decisions.md.)
   */
  error_mode: z.enum(ERROR_MODES, { error: `expected one of ${ERROR_MODES.join(', ')}` }).default('ignore'),
  /** Drop records below this severity (records with no severity are kept). */
  min_severity: severitySchema().optional(),
  logs: section({
    /** Keep only records that match (legacy MatchProperties). */
    include: filterMatchSchema().optional(),
    /** Drop records that match (legacy MatchProperties). */
    exclude: filterMatchSchema().optional(),
    /** OTTL conditions; a record matching any of them is dropped. */
    log_record: z.array(conditionSchema, { error: 'expected a list of OTTL conditions' }).default([]),
  }),
});

export type FilterConfig = z.output<typeof filterConfigSchema>;
