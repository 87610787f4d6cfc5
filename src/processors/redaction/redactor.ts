import { createHash, createHmac } from 'node:crypto';
import { isKeyValueList, type AnyValue, type Attributes } from '../../pipeline/model.js';
import { attributesWithin } from '../shared/values.js';
import { HEX_ID, SECRET_KEY, type Detector } from './detectors.js';

export interface RedactorOptions {
  detectors: Detector[];
  /** User regexes (global), each with the name it is counted under. */
  custom: Array<{ name: string; regex: RegExp }>;
  /** A candidate secret matching one of these is left as it is. */
  allowedValues: RegExp[];
  /** Keys never masked nor removed. */
  allowKeys: Set<string>;
  /** Keys whose whole value is masked. */
  blockKeys: RegExp[];
  /** When set, attributes whose key is not in it (nor in allowKeys) are removed. */
  allowedKeys: Set<string> | undefined;
  /** Mask text; `{detector}` is replaced by the detector's name. */
  replacement: string;
  /** none, or a node:crypto hash name; with hmacKey an HMAC. */
  hashFunction: string;
  hmacKey: string | undefined;
  /** Mask values of keys named like secrets (password, token, api_key …) whole. */
  secretKeys: boolean;
}

const KEY_PLAIN = 0;
const KEY_ALLOWED = 1;
const KEY_BLOCKED = 2;
const KEY_SECRET = 3;
const KEY_CACHE_SIZE = 10_000;
const LARGE_INT = 10n ** 12n;
/** The shortest text any detector masks (`a@b.io`, `pwd=x`); user regexes see every string. */
const MIN_SECRET_LENGTH = 5;
/** Shorter strings are not worth the HEX_ID test. */
const HEX_ID_LENGTH = 16;

/**
 * Masks secrets in strings and attribute maps. Counts what it masked per detector in `masked`
 * (read and reset by the processor after each batch); never keeps the values. A key's kind
 * (allowed, blocked, secret, plain) is computed once per distinct key.
 */
export class Redactor {
  /** Masked values per detector: built-in detectors, then `block_keys`, then custom regexes. */
  readonly masked: Int32Array;
  readonly counterNames: string[];
  deleted = 0;
  private readonly detectors: Detector[];
  private readonly replacements: string[];
  /** Text this redactor writes, so a later detector does not mask a mask. */
  private readonly replacementTexts: Set<string>;
  private readonly blockKeysIndex: number;
  private readonly secretKeyIndex: number;
  private readonly customBase: number;
  private readonly keyKinds = new Map<string, number>();
  private maskedKeys: string[] | undefined;
  private readonly cardDetector: boolean;
  /** With allowed_keys: the attribute keys kept (allowed_keys and allow_keys); the rest are removed. */
  private readonly keptKeys: ReadonlySet<string> | undefined;

  constructor(private readonly options: RedactorOptions) {
    this.detectors = options.detectors;
    this.counterNames = [
      ...options.detectors.map((d) => d.name as string),
      'block_keys',
      ...options.custom.map((c) => c.name),
    ];
    this.blockKeysIndex = options.detectors.length;
    this.customBase = this.blockKeysIndex + 1;
    this.secretKeyIndex = options.detectors.findIndex((d) => d.name === 'password');
    this.cardDetector = options.detectors.some((d) => d.name === 'credit_card');
    this.masked = new Int32Array(this.counterNames.length);
    this.replacements = this.counterNames.map((name) => options.replacement.replaceAll('{detector}', name));
    this.replacementTexts = new Set(this.replacements);
    this.keptKeys = options.allowedKeys && new Set([...options.allowedKeys, ...options.allowKeys]);
  }

  /** Masks every secret found in one string; returns the same string when there was none. */
  maskText(s: string): string {
    if (s.length < MIN_SECRET_LENGTH) return s;
    let out = s;
    const detectors = this.detectors;
    if (detectors.length > 0 && !(s.length >= HEX_ID_LENGTH && HEX_ID.test(s))) {
      for (let i = 0; i < detectors.length; i++) {
        const d = detectors[i]!;
        if (out.length < d.minLength || (d.pretest !== undefined && !d.pretest(out))) continue;
        out = this.replaceMatches(out, d.regex, i, d.secretGroups ?? 0, d.validate, d.locate);
      }
    }
    const custom = this.options.custom;
    for (let c = 0; c < custom.length; c++)
      out = this.replaceMatches(out, custom[c]!.regex, this.customBase + c, 0, undefined, undefined);
    return out;
  }

  private replaceMatches(
    s: string,
    re: RegExp,
    counter: number,
    secretGroups: number,
    validate: Detector['validate'],
    locate: Detector['locate'],
  ): string {
    re.lastIndex = 0;
    let m = re.exec(s);
    if (m === null) return s;
    let result = '';
    let last = 0;
    do {
      let start = m.index;
      let end = start + m[0].length;
      let group = 0;
      if (secretGroups > 0) {
        for (let g = 1; g <= secretGroups; g++) {
          if (m[g] !== undefined) {
            [start, end] = m.indices![g]!;
            group = g;
            break;
          }
        }
      }
      if (locate !== undefined) {
        const candidate = s.slice(start, end);
        for (let span = locate(candidate, 0); span !== undefined; span = locate(candidate, span[1])) {
          const secret = candidate.slice(span[0], span[1]);
          if (this.allowedValue(secret)) continue;
          result += s.slice(last, start + span[0]) + this.replacement(counter, secret);
          last = start + span[1];
          this.masked[counter]!++;
        }
      } else if (end > start) {
        const secret = s.slice(start, end);
        if (
          !this.replacementTexts.has(secret) &&
          (!validate || validate(secret, group)) &&
          !this.allowedValue(secret)
        ) {
          result += s.slice(last, start) + this.replacement(counter, secret);
          last = end;
          this.masked[counter]!++;
        }
      }
      if (m[0].length === 0) re.lastIndex++;
      m = re.exec(s);
    } while (m !== null);
    return last === 0 ? s : result + s.slice(last);
  }

  private allowedValue(secret: string): boolean {
    const allowed = this.options.allowedValues;
    for (let i = 0; i < allowed.length; i++) if (allowed[i]!.test(secret)) return true;
    return false;
  }

  private replacement(counter: number, secret: string): string {
    const o = this.options;
    if (o.hashFunction === 'none') return this.replacements[counter]!;
    return (o.hmacKey === undefined ? createHash(o.hashFunction) : createHmac(o.hashFunction, o.hmacKey))
      .update(secret)
      .digest('hex');
  }

  private keyKind(key: string): number {
    let kind = this.keyKinds.get(key);
    if (kind === undefined) {
      const o = this.options;
      if (o.allowKeys.has(key)) kind = KEY_ALLOWED;
      else if (o.blockKeys.some((re) => re.test(key))) kind = KEY_BLOCKED;
      else if (o.secretKeys && SECRET_KEY.test(key)) kind = KEY_SECRET;
      else kind = KEY_PLAIN;
      if (this.keyKinds.size >= KEY_CACHE_SIZE) this.keyKinds.clear();
      this.keyKinds.set(key, kind);
    }
    return kind;
  }

  /** Masks a whole value: strings by the counter's replacement or hash, other kinds as their text. */
  private maskWhole(v: AnyValue, counter: number): AnyValue {
    if (v === null || v === '') return v;
    this.masked[counter]!++;
    return this.replacement(
      counter,
      typeof v === 'string' ? v : JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)),
    );
  }

  /** Masks secrets anywhere in a value; lists and maps are changed in place. */
  maskValue(v: AnyValue, key: string): AnyValue {
    if (typeof v === 'string') {
      const out = this.maskText(v);
      if (out !== v) this.maskedKeys?.push(key);
      return out;
    }
    if (typeof v === 'bigint') {
      // A card number sent as an integer.
      if (v >= LARGE_INT && this.cardDetector) {
        const text = v.toString();
        const out = this.maskText(text);
        if (out !== text) {
          this.maskedKeys?.push(key);
          return out;
        }
      }
      return v;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = this.maskValue(v[i]!, key);
      return v;
    }
    if (isKeyValueList(v)) this.maskMap(v, false);
    return v;
  }

  /**
   * Masks a map by key (allowed, blocked, secret keys) and value, in place; at the top level also
   * removes the keys not allowed, by returning a copy without them.
   */
  maskMap(input: Attributes, topLevel: boolean): Attributes {
    let attrs = input;
    const keptKeys = this.keptKeys;
    if (topLevel && keptKeys !== undefined) {
      let removed = 0;
      for (const k in attrs) if (!keptKeys.has(k)) removed++;
      if (removed > 0) {
        attrs = attributesWithin(attrs, keptKeys);
        this.deleted += removed;
      }
    }
    for (const k in attrs) {
      const kind = this.keyKind(k);
      if (kind === KEY_ALLOWED) continue;
      const v = attrs[k]!;
      if (kind === KEY_BLOCKED || kind === KEY_SECRET) {
        const masked = this.maskWhole(v, kind === KEY_BLOCKED ? this.blockKeysIndex : this.secretKeyIndex);
        if (masked !== v) this.maskedKeys?.push(k);
        attrs[k] = masked;
        continue;
      }
      if (typeof v === 'string') {
        const out = this.maskText(v);
        if (out !== v) {
          attrs[k] = out;
          this.maskedKeys?.push(k);
        }
      } else if (typeof v === 'object' || typeof v === 'bigint') {
        attrs[k] = this.maskValue(v, k);
      }
    }
    return attrs;
  }

  /** Starts collecting the keys masked in one record (summary: debug). */
  collectKeys(): void {
    this.maskedKeys = [];
  }

  takeKeys(): string[] {
    const keys = this.maskedKeys ?? [];
    this.maskedKeys = undefined;
    return keys;
  }

  /** Total masked so far, for per-record summaries. */
  total(): number {
    let n = 0;
    for (let i = 0; i < this.masked.length; i++) n += this.masked[i]!;
    return n;
  }
}
