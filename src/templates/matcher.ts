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

class TrieNode {
  literal: Map<number, TrieNode> | undefined;
  wildcard: TrieNode | undefined;
  template = -1;

  child(hash: number | undefined): TrieNode {
    if (hash === undefined) return (this.wildcard ??= new TrieNode());
    this.literal ??= new Map();
    let next = this.literal.get(hash);
    if (!next) {
      next = new TrieNode();
      this.literal.set(hash, next);
    }
    return next;
  }
}

const LITERAL = 0;
const VARIABLE = 1;
/** A token with a variable inside (`blk_<*>`, `(<*>)`): a masked token, or a literal by its frame. */
const FRAMED = 2;

/**
 * One template set compiled into a token trie per token count. Lookup walks a message's token
 * hashes; a literal edge is tried before a frame's edge (`(<*>)` for `(host)`) and that before
 * the `<*>` edge, so the most specific template wins.
 */
export class CompiledTemplateSet {
  private readonly roots = new Map<number, TrieNode>();
  /** Per template, per token: LITERAL, VARIABLE or FRAMED, for parameter extraction. */
  private readonly kinds: Uint8Array[];
  /** Per template, per token: its hash, to tell a frame match from the literal text `x<*>y`. */
  private readonly hashes: Float64Array[] = [];

  constructor(templates: string[][]) {
    this.kinds = templates.map((tokens, index) => {
      let node = this.roots.get(tokens.length);
      if (!node) {
        node = new TrieNode();
        this.roots.set(tokens.length, node);
      }
      const kinds = new Uint8Array(tokens.length);
      const hashes = new Float64Array(tokens.length);
      for (let t = 0; t < tokens.length; t++) {
        const token = tokens[t]!;
        kinds[t] = token === WILDCARD ? VARIABLE : token.includes(WILDCARD) ? FRAMED : LITERAL;
        hashes[t] = kinds[t] === VARIABLE ? NO_FRAME : tokenHash(token);
        node = node.child(kinds[t] === VARIABLE ? undefined : hashes[t]);
      }
      if (node.template < 0) node.template = index;
      this.hashes.push(hashes);
      return kinds;
    });
  }

  match(scan: TokenScan): number {
    const root = this.roots.get(scan.count);
    return root ? walk(root, scan, 0, scan.count) : -1;
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
}

function walk(node: TrieNode, scan: TokenScan, t: number, count: number): number {
  if (t === count) return node.template;
  if (node.literal) {
    const literal = node.literal.get(scan.hash[t]!);
    if (literal) {
      const found = walk(literal, scan, t + 1, count);
      if (found >= 0) return found;
    }
    if (scan.frame[t] !== NO_FRAME) {
      const framed = node.literal.get(scan.frameHash(t));
      if (framed) {
        const found = walk(framed, scan, t + 1, count);
        if (found >= 0) return found;
      }
    }
  }
  return node.wildcard ? walk(node.wildcard, scan, t + 1, count) : -1;
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

export function encodeMessages(messages: string[]): EncodedMessages {
  let capacity = 0;
  for (const m of messages) capacity += m.length;
  // Three bytes per UTF-16 unit is the most UTF-8 needs; an ArrayBuffer of its own can be transferred.
  const buffer = Buffer.from(new ArrayBuffer(capacity * 3));
  const offsets = new Int32Array(messages.length + 1);
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
    at += buffer.write(messages[i]!, at, 'utf8');
    offsets[i + 1] = at;
  }
  return { buffer, offsets };
}

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
