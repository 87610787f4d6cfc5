import { NO_FRAME, TokenScan, WILDCARD, WILDCARD_TEXT, tokenHash } from './token-scanner.js';

/**
 * The template set as matchers see it: plain data, so it can be handed to worker threads. Each
 * template set (one, or one per service) is a list of template token lists; a template's index in
 * its list is what matching returns.
 */
export interface SnapshotData {
  version: number;
  /** User masking rules (regex sources), which workers compile into their TokenScan. */
  masking: string[];
  sets: Record<string, string[][]>;
}

const LITERAL = 0;
const VARIABLE = 1;
/** A token with a variable inside (`blk_<*>`, `(<*>)`): a masked token, or a literal by its frame. */
const FRAMED = 2;
const NONE = -1;

/**
 * One template set compiled into a token trie per token count. Lookup walks a message's token
 * hashes; a literal edge is tried before a frame's edge (`(<*>)` for `(host)`) and that before
 * the `<*>` edge, so the most specific template wins.
 *
 * The trie is typed arrays: nodes are indexes, and every literal edge of every node sits in one
 * open-addressed table keyed by (node, token hash), so a lookup is a few array reads, not a
 * `Map` per node hashing a heap number.
 */
export class CompiledTemplateSet {
  /** The root node of the trie of templates with n tokens, or NONE. */
  private roots = new Int32Array(0);
  /** Per node: the child by the `<*>` edge, the template ending there, whether it has literal edges. */
  private wildcard = new Int32Array(64);
  private template = new Int32Array(64);
  private literals = new Uint8Array(64);
  private nodes = 0;
  private edgeHash = new Float64Array(256);
  private edgeFrom = new Int32Array(256).fill(NONE);
  private edgeTo = new Int32Array(256);
  private edges = 0;
  private mask = 255;
  /** Per template, per token: LITERAL, VARIABLE or FRAMED, for parameter extraction. */
  private readonly kinds: Uint8Array[];
  /** Per template, per token: its hash, to tell a frame match from the literal text `x<*>y`. */
  private readonly hashes: Float64Array[] = [];

  constructor(templates: string[][]) {
    this.kinds = templates.map((tokens, index) => {
      let node = this.root(tokens.length);
      const kinds = new Uint8Array(tokens.length);
      const hashes = new Float64Array(tokens.length);
      for (let t = 0; t < tokens.length; t++) {
        const token = tokens[t]!;
        kinds[t] = token === WILDCARD ? VARIABLE : token.includes(WILDCARD) ? FRAMED : LITERAL;
        hashes[t] = kinds[t] === VARIABLE ? NO_FRAME : tokenHash(token);
        node = kinds[t] === VARIABLE ? this.wildcardChild(node) : this.literalChild(node, hashes[t]!);
      }
      if (this.template[node]! < 0) this.template[node] = index;
      this.hashes.push(hashes);
      return kinds;
    });
  }

  match(scan: TokenScan): number {
    const root = scan.count < this.roots.length ? this.roots[scan.count]! : NONE;
    return root === NONE ? -1 : this.walk(root, scan, 0, scan.count);
  }

  /** Appends the parameter spans of a message matched to `template`: one per `<*>`, in order. */
  spans(scan: TokenScan, template: number, out: SpanList): void {
    const kinds = this.kinds[template]!;
    const hashes = this.hashes[template]!;
    for (let t = 0; t < scan.count; t++) {
      const kind = kinds[t]!;
      if (kind === VARIABLE) out.push(scan.start[t]!, scan.end[t]!);
      else if (scan.spanCount[t]! > 0)
        for (let k = scan.firstSpan[t]!, last = k + scan.spanCount[t]!; k < last; k++)
          out.push(scan.spanStart[k]!, scan.spanEnd[k]!);
      else if (kind === FRAMED && hashes[t] !== scan.hash[t]) out.push(scan.frameStart[t]!, scan.frameEnd[t]!);
    }
  }

  private walk(node: number, scan: TokenScan, t: number, count: number): number {
    if (t === count) return this.template[node]!;
    if (this.literals[node]) {
      const literal = this.edge(node, scan.hash[t]!);
      if (literal !== NONE) {
        const found = this.walk(literal, scan, t + 1, count);
        if (found >= 0) return found;
      }
      if (scan.frame[t] !== NO_FRAME) {
        const framed = this.edge(node, scan.frameHash(t));
        if (framed !== NONE) {
          const found = this.walk(framed, scan, t + 1, count);
          if (found >= 0) return found;
        }
      }
    }
    const wildcard = this.wildcard[node]!;
    return wildcard === NONE ? -1 : this.walk(wildcard, scan, t + 1, count);
  }

  private slot(node: number, hash: number): number {
    const mixed = (hash >>> 0) ^ Math.imul(node, 0x9e3779b1);
    return (mixed ^ (mixed >>> 15)) & this.mask;
  }

  private edge(node: number, hash: number): number {
    for (let i = this.slot(node, hash); ; i = (i + 1) & this.mask) {
      const from = this.edgeFrom[i]!;
      if (from === NONE) return NONE;
      if (from === node && this.edgeHash[i] === hash) return this.edgeTo[i]!;
    }
  }

  private root(count: number): number {
    if (count >= this.roots.length) {
      const grown = new Int32Array(Math.max(count + 1, this.roots.length * 2)).fill(NONE);
      grown.set(this.roots);
      this.roots = grown;
    }
    if (this.roots[count] === NONE) this.roots[count] = this.newNode();
    return this.roots[count]!;
  }

  private wildcardChild(node: number): number {
    if (this.wildcard[node] === NONE) this.wildcard[node] = this.newNode();
    return this.wildcard[node]!;
  }

  private literalChild(node: number, hash: number): number {
    const known = this.edge(node, hash);
    if (known !== NONE) return known;
    const child = this.newNode();
    if ((this.edges + 1) * 2 > this.edgeFrom.length) this.growEdges();
    this.insertEdge(node, hash, child);
    this.literals[node] = 1;
    return child;
  }

  private insertEdge(node: number, hash: number, child: number): void {
    let i = this.slot(node, hash);
    while (this.edgeFrom[i] !== NONE) i = (i + 1) & this.mask;
    this.edgeFrom[i] = node;
    this.edgeHash[i] = hash;
    this.edgeTo[i] = child;
    this.edges++;
  }

  /** Doubles the edge table, so it stays at most half full and probes stay short. */
  private growEdges(): void {
    const from = this.edgeFrom;
    const hash = this.edgeHash;
    const to = this.edgeTo;
    const size = from.length * 2;
    this.edgeFrom = new Int32Array(size).fill(NONE);
    this.edgeHash = new Float64Array(size);
    this.edgeTo = new Int32Array(size);
    this.mask = size - 1;
    this.edges = 0;
    for (let i = 0; i < from.length; i++) if (from[i] !== NONE) this.insertEdge(from[i]!, hash[i]!, to[i]!);
  }

  private newNode(): number {
    if (this.nodes === this.wildcard.length) {
      const size = this.nodes * 2;
      const wildcard = new Int32Array(size);
      const template = new Int32Array(size);
      const literals = new Uint8Array(size);
      wildcard.set(this.wildcard);
      template.set(this.template);
      literals.set(this.literals);
      this.wildcard = wildcard;
      this.template = template;
      this.literals = literals;
    }
    const node = this.nodes++;
    this.wildcard[node] = NONE;
    this.template[node] = NONE;
    this.literals[node] = 0;
    return node;
  }
}

/** A growable list of [start, end) byte offsets. */
export class SpanList {
  data = new Int32Array(1024);
  length = 0;

  push(start: number, end: number): void {
    if (this.length + 2 > this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = start;
    this.data[this.length++] = end;
  }
}

/**
 * What matching a batch of messages gives: per message the template index (-1: no match) and the
 * range of its parameter spans; spans are byte offsets into the batch buffer.
 */
export interface MatchResult {
  version: number;
  templates: Int32Array;
  /** Message i's spans are spans[2 * spanIndex[i] … 2 * spanIndex[i + 1]). */
  spanIndex: Int32Array;
  spans: Int32Array;
  /** Each message's TokenScan shape flags (its spacing, a literal `<*>`). */
  shapes: Uint8Array;
}

/** The messages of a batch as one UTF-8 buffer: message i is bytes [offsets[i], offsets[i + 1]). */
export interface EncodedMessages {
  buffer: Uint8Array;
  offsets: Int32Array;
}

/**
 * Messages [from, to) of a batch, encoded; message i of the result is messages[from + i]. Into
 * `reuse` when it is large enough (inline matching: the bytes are done with before the next
 * batch); otherwise into a buffer of its own, which can be transferred to a worker.
 */
export function encodeMessages(messages: string[], from: number, to: number, reuse?: Buffer): EncodedMessages {
  let capacity = 0;
  for (let i = from; i < to; i++) capacity += messages[i]!.length;
  // Three bytes per UTF-16 unit is the most UTF-8 needs; bytes past the last offset are never
  // read, so the buffer need not be zeroed.
  const buffer = reuse !== undefined && reuse.length >= capacity * 3 ? reuse : Buffer.allocUnsafeSlow(capacity * 3);
  const offsets = new Int32Array(to - from + 1);
  let at = 0;
  for (let i = from; i < to; i++) {
    // The native writer without Buffer#write's argument checks: every call here is valid.
    at += utf8Write.call(buffer, messages[i]!, at) as number;
    offsets[i - from + 1] = at;
  }
  return { buffer, offsets };
}

const utf8Write = (Buffer.prototype as unknown as { utf8Write: (text: string, offset: number) => number }).utf8Write;

/** Matches every message of an encoded batch against one compiled set. Runs inline and in workers. */
export function matchMessages(
  set: CompiledTemplateSet,
  version: number,
  messages: EncodedMessages,
  scan = new TokenScan(),
): MatchResult {
  const n = messages.offsets.length - 1;
  const templates = new Int32Array(n);
  const spanIndex = new Int32Array(n + 1);
  const spans = new SpanList();
  const shapes = new Uint8Array(n);
  // One native search of the whole batch: the text `<*>` in a message is rare.
  const bytes = Buffer.from(messages.buffer.buffer, messages.buffer.byteOffset, messages.buffer.byteLength);
  let wildcardText = bytes.indexOf(WILDCARD) >= 0 ? 0 : -1;
  for (let i = 0; i < n; i++) {
    const from = messages.offsets[i]!;
    const to = messages.offsets[i + 1]!;
    scan.scan(messages.buffer, from, to);
    if (wildcardText >= 0 && wildcardText < to) wildcardText = bytes.indexOf(WILDCARD, from);
    shapes[i] = scan.shape | (wildcardText >= from && wildcardText + WILDCARD.length <= to ? WILDCARD_TEXT : 0);
    const template = set.match(scan);
    templates[i] = template;
    if (template >= 0) set.spans(scan, template, spans);
    spanIndex[i + 1] = spans.length >> 1;
  }
  return { version, templates, spanIndex, spans: spans.data.slice(0, spans.length), shapes };
}
