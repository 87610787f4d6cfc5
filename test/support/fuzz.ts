/**
 * Seeded inputs for fuzz tests: a failure names its seed and case, and `OTELHOUSE_FUZZ_SEED=…`
 * replays it. `OTELHOUSE_FUZZ_SCALE` multiplies the number of cases (npm run test:faults runs more).
 */

export interface Rand {
  /** A float in [0, 1). */
  (): number;
  /** An integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast, and the same sequence on every platform for a seed. */
export function seededRandom(seed: number): Rand {
  let a = seed >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }) as Rand;
  next.int = (n) => Math.floor(next() * n);
  next.pick = (items) => items[next.int(items.length)]!;
  next.chance = (p) => next() < p;
  return next;
}

export function fuzzSeed(fallback: number): number {
  const env = process.env.OTELHOUSE_FUZZ_SEED;
  return env ? Number(env) : fallback;
}

/** The number of cases: the default, times OTELHOUSE_FUZZ_SCALE, or times 10 for the long fault runs. */
export function fuzzCases(normal: number): number {
  const scale = Number(process.env.OTELHOUSE_FUZZ_SCALE ?? (process.env.OTELHOUSE_FAULTS === 'long' ? 10 : 1));
  return Math.max(1, Math.round(normal * scale));
}

/** A field found by walking a protobuf message without its schema. */
interface ProtoField {
  tagStart: number;
  tagEnd: number;
  wire: number;
  /** For length-delimited fields: where the payload starts and ends, and whether it parsed as a message. */
  payloadStart: number;
  payloadEnd: number;
  message: boolean;
}

function varint(buf: Uint8Array, pos: number, end: number): [number, number] | undefined {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) return undefined;
    const b = buf[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, pos];
  }
  return undefined;
}

/**
 * Every field of a valid message and of the messages nested in it (a length-delimited payload that
 * parses as a message is taken for one; strings usually do not parse). undefined if it does not parse.
 */
export function protoFields(buf: Uint8Array, start = 0, end = buf.length, out: ProtoField[] = []): ProtoField[] | undefined {
  let pos = start;
  const found: ProtoField[] = [];
  while (pos < end) {
    const tag = varint(buf, pos, end);
    if (!tag || tag[0] >>> 3 === 0) return undefined;
    const wire = tag[0] & 7;
    const tagEnd = tag[1];
    let next: number;
    let payloadStart = tagEnd;
    if (wire === 0) {
      const v = varint(buf, tagEnd, end);
      if (!v) return undefined;
      next = v[1];
    } else if (wire === 1) next = tagEnd + 8;
    else if (wire === 5) next = tagEnd + 4;
    else if (wire === 2) {
      const len = varint(buf, tagEnd, end);
      if (!len) return undefined;
      payloadStart = len[1];
      next = payloadStart + len[0];
    } else return undefined;
    if (next > end) return undefined;
    found.push({ tagStart: pos, tagEnd, wire, payloadStart, payloadEnd: next, message: false });
    pos = next;
  }
  for (const f of found) {
    out.push(f);
    if (f.wire === 2 && f.payloadEnd > f.payloadStart) {
      const before = out.length;
      if (protoFields(buf, f.payloadStart, f.payloadEnd, out)) f.message = true;
      else out.length = before;
    }
  }
  return out;
}

const INVALID_UTF8 = [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0xc0, 0xaf]];

/** One of several kinds of damage to a valid protobuf message; returns the damaged copy and the kind. */
export function mutateProtobuf(rand: Rand, valid: Uint8Array): { bytes: Uint8Array; kind: string } {
  const bytes = Uint8Array.from(valid);
  const fields = protoFields(valid) ?? [];
  const kind = rand.pick(['flip', 'truncate', 'insert', 'wire_type', 'length', 'duplicate', 'utf8']);
  switch (kind) {
    case 'flip': {
      for (let n = 1 + rand.int(8); n > 0; n--) bytes[rand.int(bytes.length)] = rand.int(256);
      return { bytes, kind };
    }
    case 'truncate':
      return { bytes: bytes.subarray(0, rand.int(bytes.length)), kind };
    case 'insert': {
      const at = rand.int(bytes.length + 1);
      const junk = Uint8Array.from({ length: 1 + rand.int(16) }, () => rand.int(256));
      return { bytes: concat(bytes.subarray(0, at), junk, bytes.subarray(at)), kind };
    }
    case 'wire_type': {
      const f = rand.pick(fields);
      // The low three bits of a tag's first byte are its wire type: 3, 4 (groups), 6 and 7 are invalid or unexpected.
      bytes[f.tagStart] = (bytes[f.tagStart]! & ~7) | rand.pick([0, 1, 2, 3, 4, 5, 6, 7].filter((w) => w !== f.wire));
      return { bytes, kind };
    }
    case 'length': {
      const lens = fields.filter((f) => f.wire === 2);
      const f = rand.pick(lens);
      // A length that runs past its parent (or wraps a 32-bit integer), written in place of the old one.
      const huge = rand.pick([0xffffffff, 0x7fffffff, f.payloadEnd - f.payloadStart + 1 + rand.int(1000)]);
      return { bytes: concat(bytes.subarray(0, f.tagEnd), encodeVarint(huge), bytes.subarray(f.payloadStart)), kind };
    }
    case 'duplicate': {
      const f = rand.pick(fields);
      const copies = 1 + rand.int(50);
      const field = bytes.subarray(f.tagStart, f.payloadEnd);
      return { bytes: concatAll([bytes.subarray(0, f.payloadEnd), ...Array.from({ length: copies }, () => field), bytes.subarray(f.payloadEnd)]), kind };
    }
    default: {
      const strings = fields.filter((f) => f.wire === 2 && !f.message && f.payloadEnd > f.payloadStart);
      for (let n = 1 + rand.int(3); n > 0 && strings.length > 0; n--) {
        const f = rand.pick(strings);
        const bad = rand.pick(INVALID_UTF8);
        const at = f.payloadStart + rand.int(Math.max(1, f.payloadEnd - f.payloadStart - bad.length + 1));
        for (let i = 0; i < bad.length && at + i < f.payloadEnd; i++) bytes[at + i] = bad[i]!;
      }
      return { bytes, kind: 'utf8' };
    }
  }
}

export function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatAll(parts);
}

/** concat for long lists, which would overflow the stack as spread arguments. */
export function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A length-delimited field `field` holding `payload`. */
export function lenField(field: number, payload: Uint8Array): Uint8Array {
  return concat(encodeVarint((field << 3) | 2), encodeVarint(payload.length), payload);
}

/**
 * A request whose one record's body nests `depth` levels of arrays or maps. ExportLogsServiceRequest
 * (1: resource_logs) → ResourceLogs (2: scope_logs) → ScopeLogs (2: log_records) → LogRecord
 * (5: body) → AnyValue (5: array_value | 6: kvlist_value) → ArrayValue (1: values) | KeyValueList
 * (1: values) → KeyValue (1: key, 2: value).
 */
export function nestedBodyRequest(depth: number, kind: 'array' | 'kvlist'): Uint8Array {
  let value = lenField(1, new TextEncoder().encode('leaf'));
  for (let i = 0; i < depth; i++) {
    value = kind === 'array' ? lenField(5, lenField(1, value)) : lenField(6, lenField(1, concat(lenField(1, new TextEncoder().encode('k')), lenField(2, value))));
  }
  return lenField(1, lenField(2, lenField(2, lenField(5, value))));
}

/** A JSON value nested `depth` levels of OTLP/JSON arrays or maps. */
export function nestedJsonValue(depth: number, kind: 'array' | 'kvlist'): unknown {
  let value: unknown = { stringValue: 'leaf' };
  for (let i = 0; i < depth; i++) value = kind === 'array' ? { arrayValue: { values: [value] } } : { kvlistValue: { values: [{ key: 'k', value }] } };
  return value;
}

const WRONG_VALUES: unknown[] = [null, 0, -1, 1.5, 2 ** 64, '', 'x', '99999999999999999999999', '-1', 'ffff', true, [], [1, 'a'], {}, { stringValue: 7 }, '\ud800', 'zz'.repeat(16)];

/** Replaces, deletes or deepens values of a parsed OTLP/JSON request in place. */
export function mutateJsonTree(rand: Rand, root: unknown): string {
  const nodes: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (nodes.push({ parent: v, key: i }), walk(x)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (nodes.push({ parent: v as Record<string, unknown>, key: k }), walk(x));
  };
  walk(root);
  for (let n = 1 + rand.int(4); n > 0 && nodes.length > 0; n--) {
    const { parent, key } = rand.pick(nodes);
    const action = rand.int(10);
    if (action < 6) (parent as Record<string | number, unknown>)[key] = rand.pick(WRONG_VALUES);
    else if (action < 8 && !Array.isArray(parent)) delete parent[key as string];
    else if (action < 9) (parent as Record<string | number, unknown>)[key] = nestedJsonValue(1 + rand.int(60), rand.pick(['array', 'kvlist'] as const));
    else (parent as Record<string | number, unknown>)[key] = Array.from({ length: rand.int(5000) }, () => ({ key: 'k', value: { intValue: rand.int(100) } }));
  }
  return JSON.stringify(root);
}

/** Byte-level damage to JSON text, including invalid UTF-8 inside strings. */
export function mutateJsonText(rand: Rand, text: string): Uint8Array {
  const bytes = Uint8Array.from(Buffer.from(text));
  const kind = rand.int(4);
  if (kind === 0) return bytes.subarray(0, rand.int(bytes.length));
  if (kind === 1) {
    for (let n = 1 + rand.int(6); n > 0; n--) bytes[rand.int(bytes.length)] = rand.pick([0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x5c, rand.int(256)]);
    return bytes;
  }
  // Invalid UTF-8 over letters, which sit inside strings (keys or values) in OTLP/JSON.
  for (let n = 1 + rand.int(4); n > 0; n--) {
    const at = rand.int(bytes.length);
    if ((bytes[at]! | 0x20) >= 0x61 && (bytes[at]! | 0x20) <= 0x7a) bytes[at] = rand.pick([0xff, 0xc3, 0xed, 0x80]);
  }
  return bytes;
}

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/**
 * A hand-made zstd bomb: one frame with an 8 MiB window and no content size, then `blocks` RLE
 * blocks of 128 KiB each (4 bytes each): 4 bytes in, 128 KiB out per block.
 */
export function zstdRleBomb(blocks: number, byte = 0x41): Uint8Array {
  const out = new Uint8Array(6 + blocks * 4);
  out.set(ZSTD_MAGIC);
  out[4] = 0x00; // no single segment, no checksum, no dictionary, no content size
  out[5] = 13 << 3; // window descriptor: 2^(10+13) = 8 MiB
  for (let i = 0; i < blocks; i++) {
    const header = ((128 * 1024) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    out.set([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, byte], 6 + i * 4);
  }
  return out;
}

/** A 10-byte zstd frame that declares a window of nearly 2 GiB and holds one byte ("A"). */
export function zstdHugeWindowFrame(): Uint8Array {
  const lastRawBlockOfOne = (1 << 3) | 1;
  return Uint8Array.from([...ZSTD_MAGIC, 0x00, (20 << 3) | 7, lastRawBlockOfOne, 0, 0, 0x41]);
}
