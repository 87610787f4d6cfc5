import { MAX_VALUE_DEPTH } from './limits.js';

/**
 * The internal log model. It keeps OTLP's shape (resource → scope → records) so a batch can be
 * forwarded unchanged and flattened for ClickHouse without a second decode.
 *
 * AnyValue maps OTLP's AnyValue onto plain JS values so processors can work with them directly:
 * string → string, bool → boolean, int → bigint (64-bit exact), double → number,
 * bytes → Uint8Array, array → AnyValue[], kvlist → KeyValueList (an Attributes object),
 * an empty AnyValue → null.
 */
export type AnyValue = string | boolean | bigint | number | Uint8Array | AnyValue[] | KeyValueList | null;

/**
 * Attribute maps inherit nothing: keys such as "__proto__", "constructor" or "toString" are plain
 * data, and `key in attrs` sees only real keys.
 */
export interface KeyValueList {
  [key: string]: AnyValue;
}
export type Attributes = KeyValueList;

export interface Resource {
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface LogRecord {
  /** Unix nanoseconds; 0n when the source did not set it. */
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  body: AnyValue;
  attributes: Attributes;
  droppedAttributesCount: number;
  flags: number;
  /** Lower-case hex, 32 characters, or "" when absent. */
  traceId: string;
  /** Lower-case hex, 16 characters, or "" when absent. */
  spanId: string;
  eventName: string;
  /** Set by the templates processor; 0n when no template matched. */
  templateId?: bigint;
  templateParams?: string[];
  /**
   * Set by the templates processor: true when its miner learned the record (no template that
   * existed before the record's batch matched it), false when it matched one.
   */
  templateMined?: boolean;
  /** The template itself, shared by the records that matched it, for exporters that store templates. */
  template?: TemplateRef;
}

/** A template as records refer to it; immutable, a generalised template is a new TemplateRef. */
export interface TemplateRef {
  readonly id: bigint;
  readonly text: string;
  /** Ids of the templates this one replaced as it generalised (or as an LLM proposal covered them). */
  readonly replaced: readonly bigint[];
  /** Who made it: the online miner, or an LLM proposal that passed validation. */
  readonly source: TemplateSource;
  /**
   * Set on a spacing variant: the template with the message's own whitespace between its tokens
   * (tabs, runs of spaces, leading or trailing blanks), so that the text with its `<*>` filled by
   * the parameters is the message byte for byte. It belongs to (is replaced by) this template.
   */
  readonly variantOf?: TemplateRef;
}

export type TemplateSource = 'miner' | 'llm';

export interface ScopeLogs {
  scope: InstrumentationScope;
  schemaUrl: string;
  logRecords: LogRecord[];
}

export interface ResourceLogs {
  resource: Resource;
  schemaUrl: string;
  scopeLogs: ScopeLogs[];
}

export interface LogBatch {
  resourceLogs: ResourceLogs[];
}

/**
 * Instances of a constructor whose prototype is an empty null-prototype object: the same safety as
 * Object.create(null), but V8 keeps them in fast (hidden-class) mode; Object.create(null) objects
 * start in dictionary mode, measured at ~20x slower to fill with a dozen keys.
 */
const AttributeMap = function AttributeMap() {} as unknown as new () => Attributes;
AttributeMap.prototype = Object.create(null) as object;

export function newAttributes(): Attributes {
  return new AttributeMap();
}

export function newLogRecord(): LogRecord {
  return {
    timeUnixNano: 0n,
    observedTimeUnixNano: 0n,
    severityNumber: 0,
    severityText: '',
    body: null,
    attributes: newAttributes(),
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
  };
}

/**
 * A parsed JSON (or YAML) value as a log value: safe whole numbers become int (bigint) and other
 * numbers double, arrays lists, objects kvlists; `depth` is the nesting of `v` in the document
 * it came from, and containers at MAX_VALUE_DEPTH become JSON text: JSON.parse takes any nesting,
 * but everything that walks a value afterwards recurses, and the OTLP decoders and encoders take
 * no deeper value.
 */
export function anyValueFromJson(v: unknown, depth = 0): AnyValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'number':
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'object': {
      if (depth >= MAX_VALUE_DEPTH) return jsonText(v);
      if (!Array.isArray(v)) return attributesFromJson(v as Record<string, unknown>, depth);
      const list: AnyValue[] = new Array<AnyValue>(v.length);
      for (let i = 0; i < v.length; i++) list[i] = anyValueFromJson(v[i], depth + 1);
      return list;
    }
    default:
      return String(v);
  }
}

export function attributesFromJson(o: Record<string, unknown>, depth = 0): Attributes {
  const out = newAttributes();
  for (const k of Object.keys(o)) out[k] = anyValueFromJson(o[k], depth + 1);
  return out;
}

/**
 * The JSON text of a parsed JSON value, at any nesting: JSON.stringify recurses and throws a
 * RangeError past a few thousand levels (less on a deeper stack), which a body under the default
 * 64 KB size limit can reach; such values are written out by an explicit-stack walk instead.
 */
export function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null';
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return deepJsonText(v);
  }
}

interface OpenContainer {
  value: unknown[] | Record<string, unknown>;
  /** An object's keys; undefined for an array. */
  keys: string[] | undefined;
  next: number;
}

function deepJsonText(root: unknown): string {
  let out = '';
  const open: OpenContainer[] = [];
  let v = root;
  for (;;) {
    if (v !== null && typeof v === 'object') {
      const array = Array.isArray(v);
      out += array ? '[' : '{';
      open.push({ value: v as unknown[] | Record<string, unknown>, keys: array ? undefined : Object.keys(v), next: 0 });
    } else {
      out += JSON.stringify(v) ?? 'null';
    }
    for (;;) {
      const top = open[open.length - 1];
      if (top === undefined) return out;
      const keys = top.keys;
      const size = keys ? keys.length : (top.value as unknown[]).length;
      if (top.next >= size) {
        out += keys ? '}' : ']';
        open.pop();
        continue;
      }
      if (top.next > 0) out += ',';
      if (keys) {
        const k = keys[top.next]!;
        out += `${JSON.stringify(k)}:`;
        v = (top.value as Record<string, unknown>)[k];
      } else {
        v = (top.value as unknown[])[top.next];
      }
      top.next++;
      break;
    }
  }
}

export function countRecords(batch: LogBatch): number {
  let n = 0;
  for (const rl of batch.resourceLogs) for (const sl of rl.scopeLogs) n += sl.logRecords.length;
  return n;
}

export function isKeyValueList(v: AnyValue): v is KeyValueList {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * Renders an AnyValue the way the OTel Collector's pcommon.Value.AsString does, which is what the
 * contrib ClickHouse exporter stores in Body and the attribute maps: strings as they are, bytes as
 * base64, arrays and maps as JSON.
 */
export function anyValueToString(v: AnyValue): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'number':
      return formatDouble(v);
    default:
      if (v === null) return '';
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
      return JSON.stringify(toJsonValue(v));
  }
}

function formatDouble(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

function toJsonValue(v: AnyValue): JsonValue {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    case 'number':
      return Number.isFinite(v) ? v : formatDouble(v);
    default: {
      if (v === null) return null;
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
      if (Array.isArray(v)) return v.map(toJsonValue);
      const out: { [k: string]: JsonValue } = {};
      for (const k of Object.keys(v)) out[k] = toJsonValue(v[k] as AnyValue);
      return out;
    }
  }
}

/** Deep copy for fan-out: every consumer after the first gets its own batch to change. */
export function cloneBatch(batch: LogBatch): LogBatch {
  return {
    resourceLogs: batch.resourceLogs.map((rl) => ({
      resource: {
        attributes: cloneAttributes(rl.resource.attributes),
        droppedAttributesCount: rl.resource.droppedAttributesCount,
      },
      schemaUrl: rl.schemaUrl,
      scopeLogs: rl.scopeLogs.map((sl) => ({
        scope: { ...sl.scope, attributes: cloneAttributes(sl.scope.attributes) },
        schemaUrl: sl.schemaUrl,
        logRecords: sl.logRecords.map(cloneRecord),
      })),
    })),
  };
}

function cloneRecord(r: LogRecord): LogRecord {
  const copy: LogRecord = { ...r, body: cloneValue(r.body), attributes: cloneAttributes(r.attributes) };
  if (r.templateParams) copy.templateParams = r.templateParams.slice();
  return copy;
}

function cloneAttributes(a: Attributes): Attributes {
  const out = newAttributes();
  for (const k in a) out[k] = cloneValue(a[k] as AnyValue);
  return out;
}

function cloneValue(v: AnyValue): AnyValue {
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) return v.map(cloneValue);
  return cloneAttributes(v);
}
