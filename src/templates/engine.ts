import {
  CompiledTemplateSet,
  encodeMessages,
  matchMessages,
  type EncodedMessages,
  type MatchResult,
  type SnapshotData,
} from './matcher.js';
import { Template, TemplateMiner, type MinerOptions } from './miner.js';
import { MatcherPool } from './pool.js';
import type { TemplateRef, TemplateSource } from '../pipeline/model.js';
import { templateId } from './identity.js';
import {
  IRREGULAR_SPACING,
  MERGED_VARIABLES,
  NO_FRAME,
  TokenScan,
  WILDCARD,
  WILDCARD_TEXT,
  compileMaskingRules,
} from './token-scanner.js';

/** The template a message got and the values of its `<*>`s; no template: undefined. */
export interface Assignment {
  template: TemplateRef | undefined;
  params: string[];
  /** The miner learned the message: no template as it stood before this batch matched it. */
  mined: boolean;
}

export interface EngineOptions {
  miner: Partial<MinerOptions>;
  /** Batches with more messages than this are matched on the worker pool. */
  parallelThreshold: number;
  /** Worker threads; 0 matches everything inline. */
  poolSize: number;
  /** User masking rules, regex sources matched against whole tokens. */
  masking: string[];
  /** Told of messages the miner handled poorly, e.g. to have an LLM review their templates. */
  candidates?: CandidateSink;
}

/**
 * Receives messages that made or changed a template (nothing matched them), and one message per
 * batch of each low-confidence template that matched. `wants` is asked first, so a sink that has
 * seen a template already costs no string.
 */
export interface CandidateSink {
  wants(templateId: bigint): boolean;
  offer(set: string, template: TemplateRef, message: string): void;
}

/** One template set's matcher state: templates in snapshot order and their texts at that time. */
interface SetSnapshot {
  templates: Template[];
  texts: string[];
  compiled: CompiledTemplateSet;
}

interface TemplateSet {
  key: string;
  miner: TemplateMiner;
  snapshot: SetSnapshot;
}

export interface EngineCounters {
  matched: number;
  mined: number;
  newTemplates: number;
  rechecked: number;
  /** Messages whose template and parameters would not give the message back: stored without a template. */
  unrenderable: number;
}

const EMPTY_PARAMS: string[] = [];

/**
 * Matches messages against the template sets and learns the ones no template matches. Matching
 * runs on an immutable, versioned snapshot of each set, inline or on the pool; messages it misses
 * go to the set's miner on this thread, in order, and a new snapshot is built before the next
 * batch when the miner changed anything.
 */
export class TemplateEngine {
  private readonly sets = new Map<string, TemplateSet>();
  private readonly pool: MatcherPool | undefined;
  private readonly scan: TokenScan;
  private version = 0;
  private dirty = new Set<string>();
  private published = -1;
  /** Settles when the previous assign has learned its misses: batches are learned in call order. */
  private turn: Promise<void> = Promise.resolve();
  readonly counters: EngineCounters = { matched: 0, mined: 0, newTemplates: 0, rechecked: 0, unrenderable: 0 };
  /** Spacing variants by template id and spacing hash, so each is built once. */
  private readonly variants = new Map<bigint, Map<number, TemplateRef>>();
  /** The same for messages with whitespace inside a joined variable, by a hash of the gaps between tokens. */
  private readonly joinedVariants = new Map<bigint, Map<number, TemplateRef>>();
  private variantCount = 0;
  private readonly exactScan: TokenScan;
  /** The inline path's encoding buffer, kept for the next batch. */
  private inlineBytes: Buffer | undefined;

  constructor(readonly options: EngineOptions) {
    this.scan = new TokenScan(compileMaskingRules(options.masking));
    this.exactScan = new TokenScan(compileMaskingRules(options.masking));
    this.pool = options.poolSize > 0 ? new MatcherPool(options.poolSize) : undefined;
  }

  get poolSize(): number {
    return this.pool?.threads ?? 0;
  }

  get poolUtilization(): number {
    return this.pool?.utilization ?? 0;
  }

  get templateCount(): number {
    let n = 0;
    for (const s of this.sets.values()) n += s.miner.templateCount;
    return n;
  }

  templates(): Array<{ set: string; template: Template }> {
    const out: Array<{ set: string; template: Template }> = [];
    for (const [set, s] of this.sets) for (const template of s.miner.templates()) out.push({ set, template });
    return out;
  }

  /**
   * Adds a stored template to a set, as loaded at start-up or on refresh; one already held is left
   * as it is. An LLM's template is adopted, so it takes over the mined templates it covers here
   * too. Matchers see the result after `publish()` (or at the next batch).
   */
  seed(set: string, text: string, count: number, source: TemplateSource = 'miner'): void {
    const s = this.setOf(set);
    const tokens = text.split(' ');
    if (source === 'llm') {
      if (!s.miner.has(tokens)) this.adopt(set, tokens, source, count);
      return;
    }
    const before = s.miner.templateCount;
    s.miner.seed(tokens, count);
    if (s.miner.templateCount !== before) this.dirty.add(set);
  }

  /**
   * Adds a template made outside the miner; the templates it covers are folded into it. Call
   * `publish()` before the next await, so a batch being matched on the pool sees its results as
   * stale and re-checks them against the new snapshot.
   */
  adopt(
    set: string,
    tokens: string[],
    source: TemplateSource,
    count = 0,
  ): { template: TemplateRef; replaced: bigint[] } {
    const s = this.setOf(set);
    const { template, removed } = s.miner.adopt(tokens, source, count);
    this.dirty.add(set);
    return { template: template.ref(), replaced: removed.map((t) => t.id) };
  }

  /** Assigns a template to each message, learning new ones. */
  async assign(set: string, messages: string[]): Promise<Assignment[]> {
    const s = this.setOf(set);
    const previous = this.turn;
    let done!: () => void;
    this.turn = new Promise((resolve) => (done = resolve));
    try {
      return await this.assignInTurn(s, set, messages, previous);
    } finally {
      done();
    }
  }

  private async assignInTurn(
    s: TemplateSet,
    set: string,
    messages: string[],
    previous: Promise<void>,
  ): Promise<Assignment[]> {
    const out = new Array<Assignment>(messages.length);
    if (this.pool && messages.length > this.options.parallelThreshold) {
      this.publish();
      const snapshot = s.snapshot;
      // This thread matches the first share itself while the workers match the rest: a batch
      // waits for one worker round trip, not for a worker and then for this thread's matching.
      const own = Math.floor((messages.length * OWN_SHARE) / (this.pool.threads + OWN_SHARE));
      const bounds = this.chunkBounds(own, messages.length, this.pool.threads);
      const pending: Array<Promise<{ result: MatchResult; messages: EncodedMessages }>> = [];
      for (let c = 0; c + 1 < bounds.length; c++)
        pending.push(this.pool.match(set, encodeMessages(messages, bounds[c]!, bounds[c + 1]!)));
      await previous;
      this.publish();
      const ownSnapshot = s.snapshot;
      const ownBytes = own > 0 ? encodeMessages(messages, 0, own) : undefined;
      const ownResult = ownBytes && matchMessages(ownSnapshot.compiled, this.version, ownBytes, this.scan);
      const results = await Promise.all(pending);
      // Collected with no await between: a template adopted meanwhile (an LLM's) applies to a
      // whole batch or to none of it.
      if (ownResult) this.collect(s, ownSnapshot, ownResult, ownBytes!, messages, out, 0);
      for (let c = 0; c < results.length; c++)
        this.collect(s, snapshot, results[c]!.result, results[c]!.messages, messages, out, bounds[c]!);
      return out;
    }
    await previous;
    this.publish();
    const encoded = this.encodeInline(messages, messages.length);
    const result = matchMessages(s.snapshot.compiled, this.version, encoded, this.scan);
    this.collect(s, s.snapshot, result, encoded, messages, out, 0);
    return out;
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }

  private setOf(key: string): TemplateSet {
    let s = this.sets.get(key);
    if (!s) {
      s = {
        key,
        miner: new TemplateMiner(this.options.miner),
        snapshot: { templates: [], texts: [], compiled: new CompiledTemplateSet([]) },
      };
      this.sets.set(key, s);
    }
    return s;
  }

  /** Builds new snapshots for the sets that changed, and gives them to the pool; assign() does it before each batch. */
  publish(): void {
    if (this.dirty.size > 0) {
      this.version++;
      for (const key of this.dirty) {
        const s = this.sets.get(key)!;
        const templates = s.miner.templates();
        s.snapshot = {
          templates,
          texts: templates.map((t) => t.text),
          compiled: new CompiledTemplateSet(templates.map((t) => t.tokens)),
        };
      }
      this.dirty.clear();
    }
    if (this.pool && this.published !== this.version) {
      const data: SnapshotData = { version: this.version, masking: this.options.masking, sets: {} };
      for (const [key, s] of this.sets) data.sets[key] = s.snapshot.templates.map((t) => t.tokens);
      this.pool.publish(data);
      this.published = this.version;
    }
  }

  /**
   * Messages [0, to) encoded into a buffer kept from batch to batch: they are matched and
   * collected before any await.
   */
  private encodeInline(messages: string[], to: number): EncodedMessages {
    const encoded = encodeMessages(messages, 0, to, this.inlineBytes);
    if (encoded.buffer !== this.inlineBytes && encoded.buffer.length <= MAX_REUSED_BYTES)
      this.inlineBytes = encoded.buffer as Buffer;
    return encoded;
  }

  /** Bounds of `parts` near-equal chunks of messages [from, to): chunk c is [b[c], b[c + 1]). */
  private chunkBounds(from: number, to: number, parts: number): number[] {
    const size = Math.ceil((to - from) / parts);
    const bounds = [from];
    for (let at = from + size; at < to; at += size) bounds.push(at);
    if (to > from) bounds.push(to);
    return bounds;
  }

  /**
   * Turns match results into assignments. A result from an older snapshot (a worker that had not
   * seen the newest) is checked: its misses, and its hits on templates that have since changed,
   * are matched again on the current snapshot, so the outcome never depends on which snapshot a
   * worker held. What still misses is learned.
   */
  private collect(
    s: TemplateSet,
    snapshot: SetSnapshot,
    result: MatchResult,
    encoded: EncodedMessages,
    messages: string[],
    out: Assignment[],
    first: number,
  ): void {
    const buf = encoded.buffer;
    const n = result.templates.length;
    const stale = result.version !== this.version || snapshot !== s.snapshot;
    const uses = new Uint32Array(snapshot.templates.length);
    const sink = this.options.candidates;
    const firstUse = sink ? new Int32Array(snapshot.templates.length) : undefined;
    for (let i = 0; i < n; i++) {
      let index = result.templates[i]!;
      if (index >= 0) {
        // Learning earlier messages may have generalised or removed the template since the snapshot.
        const t = snapshot.templates[index]!;
        if (t.gone || t.text !== snapshot.texts[index]) index = -1;
      }
      if (index >= 0) {
        if (firstUse !== undefined && uses[index] === 0) firstUse[index] = i;
        uses[index]!++;
        const from = result.spanIndex[i]!;
        const to = result.spanIndex[i + 1]!;
        let params = EMPTY_PARAMS;
        if (to > from) {
          params = new Array<string>(to - from);
          const message = messages[first + i]!;
          const at = encoded.offsets[i]!;
          // An ASCII message's byte offsets are its string's: a slice of it shares its characters.
          if (encoded.offsets[i + 1]! - at === message.length) {
            for (let k = from; k < to; k++)
              params[k - from] = message.slice(result.spans[2 * k]! - at, result.spans[2 * k + 1]! - at);
          } else {
            for (let k = from; k < to; k++)
              params[k - from] = Buffer.prototype.utf8Slice.call(
                buf,
                result.spans[2 * k]!,
                result.spans[2 * k + 1]!,
              ) as string;
          }
        }
        const exact = this.exact(
          { template: snapshot.templates[index]!.ref(), params, mined: false },
          result.shapes[i]!,
          buf,
          encoded.offsets[i]!,
          encoded.offsets[i + 1]!,
        );
        out[first + i] = exact;
        if (exact.template) this.counters.matched++;
        continue;
      }
      out[first + i] = this.exact(
        this.learnOne(s, buf as Buffer, encoded.offsets[i]!, encoded.offsets[i + 1]!, stale),
        result.shapes[i]!,
        buf,
        encoded.offsets[i]!,
        encoded.offsets[i + 1]!,
      );
    }
    for (let k = 0; k < uses.length; k++) {
      if (!uses[k]) continue;
      const t = snapshot.templates[k]!;
      s.miner.touch(t, uses[k]!);
      if (firstUse !== undefined && t.lowConfidence && sink!.wants(t.id)) {
        const i = firstUse[k]!;
        sink!.offer(
          s.key,
          t.ref(),
          Buffer.prototype.utf8Slice.call(buf, encoded.offsets[i]!, encoded.offsets[i + 1]!) as string,
        );
      }
    }
  }

  private learnOne(s: TemplateSet, buf: Buffer, from: number, to: number, recheck: boolean): Assignment {
    const scan = this.scan;
    scan.scan(buf, from, to);
    if (scan.count === 0) return { template: undefined, params: EMPTY_PARAMS, mined: false };
    if (recheck) {
      this.counters.rechecked++;
      const current = s.snapshot;
      const index = current.compiled.match(scan);
      const t = index >= 0 ? current.templates[index]! : undefined;
      if (t && !t.gone && t.text === current.texts[index]) {
        s.miner.touch(t, 1);
        this.counters.matched++;
        return { template: t.ref(), params: paramsOf(scan, t.tokens), mined: false };
      }
    }
    const tokens = new Array<string>(scan.count);
    for (let t = 0; t < scan.count; t++) tokens[t] = scan.maskedText(t);
    const before = s.miner.templateCount;
    const learned = s.miner.learn(tokens);
    this.counters.mined++;
    if (learned.changed || learned.removed.length > 0) {
      this.dirty.add(s.key);
      if (s.miner.templateCount > before) this.counters.newTemplates++;
      const sink = this.options.candidates;
      if (sink?.wants(learned.template.id))
        sink.offer(s.key, learned.template.ref(), Buffer.prototype.utf8Slice.call(buf, from, to) as string);
    }
    return { template: learned.template.ref(), params: paramsOf(scan, learned.template.tokens), mined: true };
  }

  /**
   * Makes the assignment exact: the template's text with its `<*>` filled in order by the
   * parameters must be the message, byte for byte. Tokens are compared whatever the whitespace
   * between them, so a message spaced otherwise than by single spaces gets the spacing variant
   * of its template; a message holding the text `<*>` itself is checked, and stored without a
   * template (counted) if it would not come back.
   */
  private exact(a: Assignment, shape: number, buf: Uint8Array, from: number, to: number): Assignment {
    if (!a.template || shape === 0) return a;
    const template =
      shape & IRREGULAR_SPACING
        ? this.variant(a.template, buf, from, to, (shape & MERGED_VARIABLES) !== 0)
        : a.template;
    if (
      shape & WILDCARD_TEXT &&
      render(template.text, a.params) !== (Buffer.prototype.utf8Slice.call(buf, from, to) as string)
    ) {
      this.counters.unrenderable++;
      return { template: undefined, params: EMPTY_PARAMS, mined: false };
    }
    return template === a.template ? a : { ...a, template };
  }

  /** The whitespace around and between the tokens of the message exactScan last scanned, in order. */
  private gaps(buf: Uint8Array, from: number, to: number): string[] {
    const scan = this.exactScan;
    const gaps: string[] = new Array<string>(scan.count + 1);
    for (let t = 0; t <= scan.count; t++)
      gaps[t] = Buffer.prototype.utf8Slice.call(
        buf,
        t === 0 ? from : scan.end[t - 1]!,
        t === scan.count ? to : scan.start[t]!,
      ) as string;
    return gaps;
  }

  /**
   * The template spelt with the message's own spacing; found by a hash of the spacing, built once.
   * A message with tokens joined into one variable (a date, `12  KB`) has whitespace inside a
   * token, which a hash of all the whitespace cannot tell from whitespace between tokens: its
   * variant is found by a hash of the gaps between its own token bounds instead.
   */
  private variant(template: TemplateRef, buf: Uint8Array, from: number, to: number, joined: boolean): TemplateRef {
    if (joined) this.exactScan.scan(buf, from, to);
    const hash = joined ? gapsHash(buf, from, to, this.exactScan) : spacingHash(buf, from, to);
    const cache = joined ? this.joinedVariants : this.variants;
    let byHash = cache.get(template.id);
    const known = byHash?.get(hash);
    if (known) return known;
    if (!joined) this.exactScan.scan(buf, from, to);
    const gaps = this.gaps(buf, from, to);
    const tokens = template.text.split(' ');
    // A folded last token holds whitespace of its own: that spacing is in its parameter already.
    if (tokens.length !== gaps.length - 1) return template;
    let text = gaps[0]!;
    for (let t = 0; t < tokens.length; t++) text += tokens[t]! + gaps[t + 1]!;
    // The irregular spacing can be inside a variable (a date's padding): the template as it is.
    const v: TemplateRef =
      text === template.text
        ? template
        : { id: templateId(text), text, replaced: [], source: template.source, variantOf: template };
    if (this.variantCount >= MAX_VARIANTS) {
      this.variants.clear();
      this.joinedVariants.clear();
      this.variantCount = 0;
    }
    if (!byHash) cache.set(template.id, (byHash = new Map()));
    byHash.set(hash, v);
    this.variantCount++;
    return v;
  }
}

/**
 * This thread's share of a pooled batch, in workers' shares: less than one, since it also turns
 * every worker's results into assignments.
 */
const OWN_SHARE = 0.75;
/** The largest encoding buffer kept between inline batches. */
const MAX_REUSED_BYTES = 4 << 20;
/** Bound on the variant cache: a stream of ever new spacings costs memory only up to it. */
const MAX_VARIANTS = 10_000;
/**
 * A hash of a message's whitespace: each run's bytes, the runs' boundaries, and whether the message
 * starts and ends with one. With the template's token count it determines the variant's text.
 */
function spacingHash(buf: Uint8Array, from: number, to: number): number {
  let a = 0x811c9dc5 | 0;
  let b = 0x050c5d1f | 0;
  let inGap = false;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) {
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000197);
      inGap = true;
    } else if (inGap) {
      a = Math.imul(a ^ 0x100, 0x01000193);
      b = Math.imul(b ^ 0x100, 0x01000197);
      inGap = false;
    }
  }
  const ends = (from < to && buf[from]! <= 0x20 ? 1 : 0) | (from < to && buf[to - 1]! <= 0x20 ? 2 : 0);
  a = Math.imul(a ^ ends, 0x01000193);
  return (a >>> 0) * 2097152 + ((b >>> 0) >>> 11);
}

/**
 * A hash of the gaps around and between a scanned message's tokens: each gap's bytes and where it
 * ends. With the template's tokens it determines the variant's text.
 */
function gapsHash(buf: Uint8Array, from: number, to: number, scan: TokenScan): number {
  let a = 0x811c9dc5 | 0;
  let b = 0x050c5d1f | 0;
  for (let t = 0; t <= scan.count; t++) {
    const end = t === scan.count ? to : scan.start[t]!;
    for (let i = t === 0 ? from : scan.end[t - 1]!; i < end; i++) {
      a = Math.imul(a ^ buf[i]!, 0x01000193);
      b = Math.imul(b ^ buf[i]!, 0x01000197);
    }
    a = Math.imul(a ^ 0x100, 0x01000193);
    b = Math.imul(b ^ 0x100, 0x01000197);
  }
  return (a >>> 0) * 2097152 + ((b >>> 0) >>> 11);
}

/** A template's text with its `<*>` filled in order by params. */
export function render(text: string, params: readonly string[]): string {
  let out = '';
  let at = 0;
  let k = 0;
  for (let i = text.indexOf(WILDCARD); i >= 0; i = text.indexOf(WILDCARD, at)) {
    out += text.slice(at, i) + (params[k++] ?? '');
    at = i + WILDCARD.length;
  }
  return k === params.length ? out + text.slice(at) : '\u0000';
}

/** The values of a template's `<*>`s in a message it covers. */
export function paramsOf(scan: TokenScan, tokens: string[]): string[] {
  const params: string[] = [];
  for (let t = 0; t < scan.count; t++) {
    const token = tokens[t]!;
    if (token === WILDCARD) params.push(scan.rawText(t));
    else if (scan.spanCount[t]! > 0) {
      for (let k = scan.firstSpan[t]!, last = k + scan.spanCount[t]!; k < last; k++) {
        params.push(Buffer.prototype.utf8Slice.call(scan.buf, scan.spanStart[k]!, scan.spanEnd[k]!) as string);
      }
    } else if (scan.frame[t] !== NO_FRAME && token.includes(WILDCARD) && token !== scan.rawText(t)) {
      params.push(Buffer.prototype.utf8Slice.call(scan.buf, scan.frameStart[t]!, scan.frameEnd[t]!) as string);
    }
  }
  return params;
}
