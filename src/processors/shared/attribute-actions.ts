import { z } from 'zod';
import { anyValueFromJson, anyValueToString, type AnyValue, type Attributes } from '../../pipeline/model.js';
import { namedGroups, regexSchema } from './regex.js';
import { Sha256Cache } from './sha256-cache.js';
import { attributesWithout } from './values.js';

/**
 * The OTel Collector's attribute actions (attributesprocessor `actions`, resourceprocessor
 * `attributes`): insert, update, upsert, delete, hash, extract, convert, with `key`, `value`,
 * `from_attribute`, `pattern` and `converted_type`. Compiled once; applying them to a map is a loop
 * over plain objects with no regex compiled and nothing allocated unless a value changes.
 */

const ACTIONS = ['insert', 'update', 'upsert', 'delete', 'hash', 'extract', 'convert'] as const;
const CONVERTED_TYPES = ['int', 'double', 'bool', 'string'] as const;

const actionSchema = z
  .strictObject({
    action: z.enum(ACTIONS, { error: `expected one of ${ACTIONS.join(', ')}` }),
    /** The attribute acted on. */
    key: z.string().min(1, 'must not be empty').optional(),
    /** insert/update/upsert: the value to set. */
    value: z.unknown().optional(),
    /** insert/update/upsert: copy the value of this attribute instead. */
    from_attribute: z.string().min(1, 'must not be empty').optional(),
    /** delete/hash: a regex on keys; extract: a regex with named groups on the value of `key`. */
    pattern: regexSchema().optional(),
    /** convert: the type to convert to. */
    converted_type: z.enum(CONVERTED_TYPES, { error: `expected one of ${CONVERTED_TYPES.join(', ')}` }).optional(),
  })
  .superRefine((a, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const forbid = (keys: Array<'value' | 'from_attribute' | 'pattern' | 'converted_type'>) => {
      for (const k of keys) if (a[k] !== undefined) issue(k, `not used by action ${a.action}`);
    };
    switch (a.action) {
      case 'insert':
      case 'update':
      case 'upsert':
        if (a.key === undefined) issue('key', `action ${a.action} needs a key`);
        if ((a.value === undefined) === (a.from_attribute === undefined))
          issue('value', `action ${a.action} needs exactly one of value and from_attribute`);
        forbid(['pattern', 'converted_type']);
        break;
      case 'delete':
      case 'hash':
        if (a.key === undefined && a.pattern === undefined) issue('key', `action ${a.action} needs a key or a pattern`);
        forbid(['value', 'from_attribute', 'converted_type']);
        break;
      case 'extract':
        if (a.key === undefined) issue('key', 'action extract needs a key');
        if (a.pattern === undefined) issue('pattern', 'action extract needs a pattern with named groups');
        else if (namedGroups(a.pattern).length === 0)
          issue('pattern', 'action extract needs named groups, e.g. (?P<name>…) or (?<name>…)');
        forbid(['value', 'from_attribute', 'converted_type']);
        break;
      case 'convert':
        if (a.key === undefined) issue('key', 'action convert needs a key');
        if (a.converted_type === undefined)
          issue('converted_type', `action convert needs converted_type (${CONVERTED_TYPES.join(', ')})`);
        forbid(['value', 'from_attribute', 'pattern']);
        break;
    }
  });

export const actionListSchema = z.array(actionSchema, { error: 'expected a list of actions' });

export type ActionConfig = z.output<typeof actionSchema>;

const INSERT = 0;
const UPDATE = 1;
const UPSERT = 2;
const DELETE = 3;
const HASH = 4;
const EXTRACT = 5;
const CONVERT = 6;

const TO_INT = 0;
const TO_DOUBLE = 1;
const TO_BOOL = 2;
const TO_STRING = 3;

interface CompiledAction {
  kind: number;
  key: string;
  value: AnyValue;
  /** A list or map value, built afresh per record so no two records share (and change) one object. */
  rawValue: unknown;
  from: string;
  pattern: RegExp | undefined;
  groups: string[];
  convertTo: number;
}

const INT_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|inf(?:inity)?|nan)$/i;
const TRUE_TEXT = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_TEXT = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Converts a value; undefined when it cannot be (Go's strconv rules, as the OTel Collector's convert action). */
function convertValue(v: AnyValue, to: number): AnyValue | undefined {
  switch (to) {
    case TO_STRING:
      return typeof v === 'string' ? v : anyValueToString(v);
    case TO_INT:
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : undefined;
      if (typeof v === 'boolean') return v ? 1n : 0n;
      if (typeof v === 'string' && INT_TEXT.test(v)) {
        const n = BigInt(v);
        return n >= INT64_MIN && n <= INT64_MAX ? n : undefined;
      }
      return undefined;
    case TO_DOUBLE:
      if (typeof v === 'number') return v;
      if (typeof v === 'bigint') return Number(v);
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string' && FLOAT_TEXT.test(v)) {
        const lower = v.toLowerCase();
        if (lower.endsWith('nan')) return NaN;
        if (lower.includes('inf')) return v.startsWith('-') ? -Infinity : Infinity;
        return Number(v);
      }
      return undefined;
    case TO_BOOL:
      if (typeof v === 'boolean') return v;
      if (typeof v === 'bigint') return v !== 0n;
      if (typeof v === 'number') return v !== 0;
      if (typeof v === 'string') return TRUE_TEXT.has(v) ? true : FALSE_TEXT.has(v) ? false : undefined;
      return undefined;
    default:
      return undefined;
  }
}

export class AttributeActions {
  private readonly actions: CompiledAction[];
  private readonly digests = new Sha256Cache();
  /** Convert failures per action since the last takeConvertFailures(), by the action's key. */
  private readonly convertFailures: Int32Array;

  constructor(configs: ActionConfig[]) {
    this.actions = configs.map((a) => {
      const value = a.value === undefined ? null : anyValueFromJson(a.value);
      return {
        kind: ACTIONS.indexOf(a.action),
        key: a.key ?? '',
        value,
        rawValue: typeof value === 'object' && value !== null ? a.value : undefined,
        from: a.from_attribute ?? '',
        pattern: a.pattern,
        groups: a.action === 'extract' && a.pattern ? namedGroups(a.pattern) : [],
        convertTo: CONVERTED_TYPES.indexOf(a.converted_type ?? 'string'),
      };
    });
    this.convertFailures = new Int32Array(this.actions.length);
  }

  get size(): number {
    return this.actions.length;
  }

  /** Applies every action in order to one attribute map; returns it, or a copy when keys were deleted. */
  apply(input: Attributes): Attributes {
    let attrs = input;
    const actions = this.actions;
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i]!;
      switch (a.kind) {
        case INSERT:
        case UPDATE:
        case UPSERT: {
          const present = attrs[a.key] !== undefined;
          if ((a.kind === INSERT && present) || (a.kind === UPDATE && !present)) break;
          if (a.from) {
            const v = attrs[a.from];
            if (v !== undefined) attrs[a.key] = v;
          } else {
            attrs[a.key] = a.rawValue === undefined ? a.value : anyValueFromJson(a.rawValue);
          }
          break;
        }
        case DELETE:
          if (a.pattern) {
            let any = false;
            for (const k in attrs) if (k === a.key || a.pattern.test(k)) any = true;
            if (any) attrs = attributesWithout(attrs, a.key, a.pattern);
          } else if (attrs[a.key] !== undefined) {
            attrs = attributesWithout(attrs, a.key);
          }
          break;
        case HASH:
          if (a.key) {
            const v = attrs[a.key];
            if (v !== undefined) attrs[a.key] = this.hash(v);
          }
          if (a.pattern) for (const k in attrs) if (k !== a.key && a.pattern.test(k)) attrs[k] = this.hash(attrs[k]!);
          break;
        case EXTRACT: {
          const v = attrs[a.key];
          if (typeof v !== 'string') break;
          const groups = a.pattern!.exec(v)?.groups;
          if (!groups) break;
          for (const name of a.groups) {
            const g = groups[name];
            if (g !== undefined) attrs[name] = g;
          }
          break;
        }
        case CONVERT: {
          const v = attrs[a.key];
          if (v === undefined) break;
          const converted = convertValue(v, a.convertTo);
          if (converted === undefined) this.convertFailures[i]!++;
          else attrs[a.key] = converted;
          break;
        }
      }
    }
    return attrs;
  }

  /** SHA-256 hex of the value's text (strings as they are, other kinds as the exporter renders them). */
  private hash(v: AnyValue): string {
    return this.digests.digest(typeof v === 'string' ? v : anyValueToString(v));
  }

  /** Convert failures by attribute key since the last call, then resets the counts. */
  takeConvertFailures(): Array<[key: string, count: number]> | undefined {
    let out: Array<[string, number]> | undefined;
    for (let i = 0; i < this.convertFailures.length; i++) {
      const n = this.convertFailures[i]!;
      if (n === 0) continue;
      (out ??= []).push([this.actions[i]!.key, n]);
      this.convertFailures[i] = 0;
    }
    return out;
  }
}
