import { getHashes } from 'node:crypto';
import type { ComponentContext, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import type { LogBatch, LogRecord } from '../../pipeline/model.js';
import { builtinDetectors } from './detectors.js';
import { Redactor } from './redactor.js';
import type { RedactionConfig } from './config.js';
import { RedactionMetrics } from './metrics.js';

function nodeHashName(f: RedactionConfig['hash_function']): string {
  const name = f.replace(/^hmac-/, '');
  return name === 'sha3' ? 'sha3-256' : name;
}

/**
 * Masks secrets and personal data in bodies and attributes: built-in detectors, user regexes,
 * key rules (allow, block, secret-named keys) and the OTel Collector's allowed_keys list. Reports
 * counts per detector in /metrics, never the values.
 */
export class RedactionProcessor implements Processor {
  private readonly metrics: RedactionMetrics;
  private readonly redactor: Redactor;
  private readonly redactBody: boolean;
  private readonly summary: RedactionConfig['summary'];

  constructor(
    config: RedactionConfig,
    context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.metrics = new RedactionMetrics(context.telemetry);
    const enabled = new Set(config.detectors);
    const allowAll = config.allow_all_keys ?? config.allowed_keys === undefined;
    const hashName = nodeHashName(config.hash_function);
    if (config.hash_function !== 'none' && !getHashes().includes(hashName))
      throw new Error(`${context.id}: this Node.js build has no ${hashName} hash`);
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
    const masked = redactor.masked;
    for (let i = 0; i < masked.length; i++) {
      if (masked[i] === 0) continue;
      this.metrics.masked(redactor.counterNames[i]!, masked[i]!);
      masked[i] = 0;
    }
    if (redactor.deleted > 0) {
      this.metrics.redactionDeleted(redactor.deleted);
      redactor.deleted = 0;
    }
  }
}
