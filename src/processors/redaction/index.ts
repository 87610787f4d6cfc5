import { getHashes } from 'node:crypto';
import { z } from 'zod';
import { section } from '../../config/types.js';
import type { ComponentContext, Processor, ProcessorFactory } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import type { LogBatch, LogRecord } from '../../pipeline/model.js';
import { compileUserRegex, regexIssue, regexSchema } from '../shared/regex.js';
import { DETECTOR_NAMES, builtinDetectors } from './detectors.js';
import { Redactor } from './redactor.js';

const HASH_FUNCTIONS = ['none', 'sha256', 'sha512', 'sha3', 'sha1', 'md5', 'hmac-sha256', 'hmac-sha512'] as const;
const SUMMARIES = ['silent', 'info', 'debug'] as const;

const customRegex = z
  .union([z.string(), z.strictObject({ name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower-case letters, digits and _'), regex: z.string() })], {
    error: 'expected a regular expression, or { name, regex }',
  })
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
  detectors: z.array(z.enum(DETECTOR_NAMES, { error: `expected one of ${DETECTOR_NAMES.join(', ')}` })).default([...DETECTOR_NAMES]),
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

type RedactionConfig = z.output<typeof redactionConfigSchema>;

function nodeHashName(f: RedactionConfig['hash_function']): string {
  const name = f.replace(/^hmac-/, '');
  return name === 'sha3' ? 'sha3-256' : name;
}

/**
 * Masks secrets and personal data in bodies and attributes: built-in detectors, user regexes,
 * key rules (allow, block, secret-named keys) and the OTel Collector's allowed_keys list. Reports
 * counts per detector in /metrics, never the values.
 */
class RedactionProcessor implements Processor {
  private readonly redactor: Redactor;
  private readonly redactBody: boolean;
  private readonly summary: RedactionConfig['summary'];

  constructor(
    config: RedactionConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    const enabled = new Set(config.detectors);
    const allowAll = config.allow_all_keys ?? config.allowed_keys === undefined;
    const hashName = nodeHashName(config.hash_function);
    if (config.hash_function !== 'none' && !getHashes().includes(hashName)) throw new Error(`${context.id}: this Node.js build has no ${hashName} hash`);
    this.redactor = new Redactor({
      detectors: builtinDetectors().filter((d) => enabled.has(d.name)),
      custom: config.blocked_values,
      allowedValues: config.allowed_values,
      allowKeys: new Set([...config.allow_keys, ...config.ignored_keys]),
      blockKeys: [...config.block_keys, ...config.blocked_key_patterns],
      allowedKeys: allowAll ? undefined : new Set(config.allowed_keys ?? []),
      replacement: config.replacement,
      hashFunction: config.hash_function === 'none' ? 'none' : hashName,
      hmacKey: config.hash_function.startsWith('hmac-') ? config.hmac_key : undefined,
      secretKeys: enabled.has('password'),
    });
    this.redactBody = config.body;
    this.summary = config.summary;
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: LogBatch): Promise<void> {
    const redactor = this.redactor;
    for (const rl of batch.resourceLogs) {
      for (const sl of rl.scopeLogs) {
        const records = sl.logRecords;
        for (let i = 0; i < records.length; i++) {
          if (this.summary === 'silent') this.redact(records[i]!);
          else this.redactWithSummary(records[i]!);
        }
      }
    }
    this.report(redactor);
    return this.next.consume(batch);
  }

  private redact(rec: LogRecord): void {
    const redactor = this.redactor;
    rec.attributes = redactor.maskMap(rec.attributes, true);
    if (this.redactBody && rec.body !== null) rec.body = redactor.maskValue(rec.body, 'body');
  }

  /** The OTel Collector's summary attributes: redaction.masked.count / .keys, redaction.redacted.count / .keys. */
  private redactWithSummary(rec: LogRecord): void {
    const redactor = this.redactor;
    const maskedBefore = redactor.total();
    const deletedBefore = redactor.deleted;
    const keysBefore = this.summary === 'debug' ? new Set(Object.keys(rec.attributes)) : undefined;
    if (keysBefore) redactor.collectKeys();
    this.redact(rec);
    const masked = redactor.total() - maskedBefore;
    const deleted = redactor.deleted - deletedBefore;
    if (masked > 0) rec.attributes['redaction.masked.count'] = BigInt(masked);
    if (deleted > 0) rec.attributes['redaction.redacted.count'] = BigInt(deleted);
    if (keysBefore) {
      const maskedKeys = [...new Set(redactor.takeKeys())].sort();
      if (maskedKeys.length > 0) rec.attributes['redaction.masked.keys'] = maskedKeys.join(',');
      const removed = [...keysBefore].filter((k) => !(k in rec.attributes)).sort();
      if (removed.length > 0) rec.attributes['redaction.redacted.keys'] = removed.join(',');
    }
  }

  private report(redactor: Redactor): void {
    const telemetry = this.context.telemetry;
    const masked = redactor.masked;
    for (let i = 0; i < masked.length; i++) {
      if (masked[i] === 0) continue;
      telemetry.masked(redactor.counterNames[i]!, masked[i]!);
      masked[i] = 0;
    }
    if (redactor.deleted > 0) {
      telemetry.redactionDeleted(redactor.deleted);
      redactor.deleted = 0;
    }
  }
}

export const redactionProcessorFactory: ProcessorFactory<typeof redactionConfigSchema> = {
  kind: 'processor',
  type: 'redaction',
  configSchema: redactionConfigSchema,
  create: (config, context, next) => new RedactionProcessor(config, context, next),
};
