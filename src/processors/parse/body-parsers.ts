import { anyValueFromJson, jsonText, type AnyValue, type Attributes } from '../../pipeline/model.js';

/**
 * Body parsers: JSON objects flattened into attributes with dotted keys, and logfmt. Each writes
 * into the record's attributes through `put`, which decides about keys already present.
 */

export type Put = (attrs: Attributes, key: string, value: AnyValue) => void;

/**
 * Flattens a parsed JSON object into attributes: nested objects become dotted keys down to
 * `maxDepth` levels; deeper objects are kept as their JSON text, so a hostile body cannot create
 * unbounded keys (lists nested past MAX_VALUE_DEPTH likewise, see anyValueFromJson). Returns
 * false when the nesting went deeper than allowed.
 */
export function flattenJson(
  obj: Record<string, unknown>,
  attrs: Attributes,
  put: Put,
  maxDepth: number,
  skipKey: string,
  prefix = '',
  depth = 1,
): boolean {
  let withinLimit = true;
  for (const k of Object.keys(obj)) {
    if (depth === 1 && k === skipKey) continue;
    const v = obj[k];
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      if (depth < maxDepth) {
        if (!flattenJson(v as Record<string, unknown>, attrs, put, maxDepth, skipKey, key, depth + 1))
          withinLimit = false;
      } else {
        put(attrs, key, jsonText(v));
        withinLimit = false;
      }
    } else {
      put(attrs, key, anyValueFromJson(v, depth));
    }
  }
  return withinLimit;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Parses logfmt (`key=value key2="quoted \"value\""`) into attributes. Strict: every token must
 * be a pair, else nothing is written and undefined is returned. Not strict: the pairs found among
 * other words are taken. Returns the number of pairs and the value of `bodyKey` if present.
 */
export function parseLogfmt(
  text: string,
  attrs: Attributes,
  put: Put,
  strict: boolean,
  bodyKey: string,
): { pairs: number; body: string | undefined } | undefined {
  const n = text.length;
  let i = 0;
  let pairs: Array<[string, string]> | undefined;
  let body: string | undefined;
  while (i < n) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && !isSpace(text.charCodeAt(i)) && text.charCodeAt(i) !== 61 && text.charCodeAt(i) !== 34) i++;
    const keyEnd = i;
    if (i >= n || text.charCodeAt(i) !== 61 || keyEnd === keyStart) {
      if (strict) return undefined;
      while (i < n && !isSpace(text.charCodeAt(i))) i++;
      continue;
    }
    i++;
    let value: string;
    if (i < n && text.charCodeAt(i) === 34) {
      i++;
      let out = '';
      let segment = i;
      let closed = false;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 92 && i + 1 < n) {
          out += text.slice(segment, i);
          const e = text[i + 1]!;
          out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
          segment = i;
        } else if (c === 34) {
          closed = true;
          break;
        } else i++;
      }
      if (!closed) {
        if (strict) return undefined;
        break;
      }
      value = out + text.slice(segment, i);
      i++;
      if (i < n && !isSpace(text.charCodeAt(i))) {
        if (strict) return undefined;
        while (i < n && !isSpace(text.charCodeAt(i))) i++;
        continue;
      }
    } else {
      const valueStart = i;
      while (i < n && !isSpace(text.charCodeAt(i))) i++;
      value = text.slice(valueStart, i);
    }
    const key = text.slice(keyStart, keyEnd);
    if (key === bodyKey) body = value;
    else (pairs ??= []).push([key, value]);
  }
  if (!pairs && body === undefined) return undefined;
  if (pairs) for (const [k, v] of pairs) put(attrs, k, v);
  return { pairs: (pairs?.length ?? 0) + (body === undefined ? 0 : 1), body };
}
