import { z } from 'zod';
import { section } from '../../config/types.js';
import { compileUserRegex, regexIssue, regexSchema } from '../shared/regex.js';
import { DETECTOR_NAMES } from './detectors.js';

const HASH_FUNCTIONS = ['none', 'sha256', 'sha512', 'sha3', 'sha1', 'md5', 'hmac-sha256', 'hmac-sha512'] as const;
const SUMMARIES = ['silent', 'info', 'debug'] as const;

const customRegex = z
  .union(
    [
      z.string(),
      z.strictObject({
        name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower-case letters, digits and _'),
        regex: z.string(),
      }),
    ],
    {
      error: 'expected a regular expression, or { name, regex }',
    },
  )
  .transform((v, ctx) => {
    const named = typeof v !== 'string';
    try {
      return { name: named ? v.name : 'blocked_values', regex: compileUserRegex(named ? v.regex : v, 'g') };
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: named ? ['regex'] : [], message: regexIssue(err) });
      return z.NEVER;
    }
  });

export const redactionConfigSchema = section({
  /** Built-in detectors to run on the body and attribute values. */
  detectors: z
    .array(z.enum(DETECTOR_NAMES, { error: `expected one of ${DETECTOR_NAMES.join(', ')}` }))
    .default([...DETECTOR_NAMES]),
  /** Your own regexes (OTel's name); every match is masked. A string, or { name, regex } to count it under a name. */
  blocked_values: z.array(customRegex).default([]),
  /** A found secret matching one of these regexes is kept (e.g. your company's e-mail domain). */
  allowed_values: z.array(regexSchema()).default([]),
  /** Keys never masked or removed. `ignored_keys` is the OTel Collector's name for the same list. */
  allow_keys: z.array(z.string()).default([]),
  ignored_keys: z.array(z.string()).default([]),
  /** Regexes on keys whose values are masked whole. `blocked_key_patterns` is the OTel Collector's name. */
  block_keys: z.array(regexSchema()).default([]),
  blocked_key_patterns: z.array(regexSchema()).default([]),
  /**
   * The OTel Collector's allow-list: with allow_all_keys false, attributes not in allowed_keys
   * (or allow_keys) are removed. Defaults: false when allowed_keys is given, true otherwise.
   */
  allow_all_keys: z.boolean().optional(),
  allowed_keys: z.array(z.string()).optional(),
  /** What replaces a secret; `{detector}` becomes the detector's name (e.g. "[{detector}]"). */
  replacement: z.string().default('****'),
  /** Replace secrets by their hash instead (hex), so equal values stay joinable. */
  hash_function: z.enum(HASH_FUNCTIONS, { error: `expected one of ${HASH_FUNCTIONS.join(', ')}` }).default('none'),
  /** Key of the HMAC hash functions. */
  hmac_key: z.string().optional(),
  /** Also redact the body (the OTel Collector's processor redacts attributes only). */
  body: z.boolean().default(true),
  /** Per-record attributes saying what was done: silent (none), info (counts), debug (counts and keys). */
  summary: z.enum(SUMMARIES, { error: `expected one of ${SUMMARIES.join(', ')}` }).default('silent'),
})
  .refine((c) => !c.hash_function.startsWith('hmac-') || (c.hmac_key !== undefined && c.hmac_key.length > 0), {
    message: 'an hmac hash_function needs hmac_key (use ${env:…})',
    path: ['hmac_key'],
  })
  .refine((c) => c.allow_all_keys !== false || c.allowed_keys !== undefined, {
    message: 'allow_all_keys: false removes every attribute not in allowed_keys; list them in allowed_keys',
    path: ['allowed_keys'],
  });

export type RedactionConfig = z.output<typeof redactionConfigSchema>;
