import type { TemplateRef, TemplateSource } from '../pipeline/model.js';
import { templateId } from './identity.js';
import { WILDCARD, tokenFrame } from './token-scanner.js';

export interface MinerOptions {
  /** Share of a template's tokens a message must have in common with it to be merged into it. */
  similarity: number;
  /** Drain's tree depth: messages are grouped by token count and their first `depth - 2` words. */
  depth: number;
  /** A literal word becomes `<*>` once this many different words were seen in its place. */
  generalizeAfter: number;
  /** Most templates kept; past it the least recently used are evicted. */
  maxTemplates: number;
}

export const DEFAULT_MINER_OPTIONS: MinerOptions = {
  similarity: 0.5,
  depth: 4,
  generalizeAfter: 3,
  maxTemplates: 10000,
};

/** A mined template. `tokens` are masked tokens; `<*>` is a variable. */
export class Template {
  text: string;
  id: bigint;
  /** Ids this template has replaced as it generalised, oldest first. */
  readonly replaced: bigint[] = [];
  count = 0;
  lastUsed = 0;
  /** Per literal position that met a different word: the words seen there. */
  conflicts: Map<number, Set<string>> | undefined;
  /** Evicted for the max_templates bound. */
  evicted = false;
  /** Evicted, or folded into a more general template. */
  gone = false;

  /** Whether a token other than `<*>` holds a variable (`(<*>)`): covering it needs frames. */
  framed: boolean;

  constructor(
    readonly tokens: string[],
    readonly leaf: string,
    readonly source: TemplateSource = 'miner',
  ) {
    this.text = tokens.join(' ');
    this.id = templateId(this.text);
    this.framed = hasFramedToken(tokens);
  }

  private current: TemplateRef | undefined;

  /** The template as it is now, as records refer to it. */
  ref(): TemplateRef {
    const c = this.current;
    if (c && c.text === this.text && c.replaced.length === this.replaced.length) return c;
    return (this.current = { id: this.id, text: this.text, replaced: this.replaced.slice(), source: this.source });
  }

  /**
   * The miner is unsure of it: a literal position has met other words but not enough to become
   * `<*>` (is it a variable, or are these different events?), or most of it is `<*>` (does it
   * lump different events together?). These are the templates an LLM is asked to review.
   */
  get lowConfidence(): boolean {
    if (this.conflicts !== undefined && this.conflicts.size > 0) return true;
    let wild = 0;
    for (const token of this.tokens) if (token === WILDCARD) wild++;
    return this.tokens.length >= 3 && wild * 2 > this.tokens.length;
  }

  rename(): void {
    this.replaced.push(this.id);
    this.text = this.tokens.join(' ');
    this.id = templateId(this.text);
    this.framed = hasFramedToken(this.tokens);
  }
}

/** What learning one message did to the template set. */
export interface LearnResult {
  template: Template;
  /** The message made a new template or generalised one, so matchers need a new snapshot. */
  changed: boolean;
  /** Templates folded into `template` by a generalisation, or evicted; they no longer exist. */
  removed: Template[];
}

/**
 * An online Drain-class miner. Messages (already masked by TokenScan) are grouped by token count
 * and leading words, and a message joins the most similar template of its group.
 *
 * It differs from Drain in when a literal becomes a variable. Drain generalises as soon as one
 * message differs in a position; here a literal word only becomes `<*>` once `generalizeAfter`
 * different words were seen in its place, and until then each word keeps its own template. Words
 * that take few values ("open through proxy HTTPS" / "… SOCKS5", state names) are usually
 * distinct events, and words that take many (user names, hosts) are variables; when the
 * generalisation happens, the per-word templates it now covers are folded into it.
 */
export class TemplateMiner {
  readonly options: MinerOptions;
  private readonly leaves = new Map<string, Template[]>();
  private clock = 0;
  private size = 0;

  constructor(options: Partial<MinerOptions> = {}) {
    this.options = { ...DEFAULT_MINER_OPTIONS, ...options };
  }

  get templateCount(): number {
    return this.size;
  }

  templates(): Template[] {
    const out: Template[] = [];
    for (const leaf of this.leaves.values()) for (const t of leaf) out.push(t);
    return out;
  }

  has(tokens: string[]): boolean {
    const text = tokens.join(' ');
    return this.leaves.get(this.leafKey(tokens))?.some((t) => t.text === text) ?? false;
  }

  /** Adds a known template (loaded from storage) as it is, unless it exists already. */
  seed(tokens: string[], count = 0): Template {
    const key = this.leafKey(tokens);
    const leaf = this.leafOf(key);
    const text = tokens.join(' ');
    const existing = leaf.find((t) => t.text === text);
    if (existing) return existing;
    const template = new Template(tokens.slice(), key);
    template.count = count;
    template.lastUsed = ++this.clock;
    this.add(leaf, template);
    return template;
  }

  /**
   * Adds a template proposed from outside the miner (an LLM) and folds into it every template of
   * the same length it covers, wherever their leading words put them: those messages are its
   * messages now, and their ids become its lineage. Returns the folded templates.
   */
  adopt(tokens: string[], source: TemplateSource, count = 0): { template: Template; removed: Template[] } {
    const key = this.leafKey(tokens);
    const leaf = this.leafOf(key);
    const text = tokens.join(' ');
    let template = leaf.find((t) => t.text === text);
    if (!template) {
      template = new Template(tokens.slice(), key, source);
      template.count = count;
      this.add(leaf, template);
    }
    template.lastUsed = ++this.clock;
    const removed: Template[] = [];
    const prefix = `${tokens.length}\u0000`;
    for (const [k, other] of this.leaves) {
      if (k === String(tokens.length) || k.startsWith(prefix)) this.foldCovered(other, template, removed);
    }
    for (const [k, other] of this.leaves) if (other.length === 0) this.leaves.delete(k);
    return { template, removed };
  }

  /** Counts a use of a template the matcher found, for least-recently-used eviction. */
  touch(template: Template, uses: number): void {
    template.count += uses;
    template.lastUsed = ++this.clock;
  }

  learn(tokens: string[]): LearnResult {
    const key = this.leafKey(tokens);
    const leaf = this.leafOf(key);
    const removed: Template[] = [];
    let changed = false;
    let template = this.covering(leaf, tokens);
    if (!template) {
      const best = this.mostSimilar(leaf, tokens);
      if (best && this.generalise(best, tokens)) this.foldCovered(leaf, best, removed);
      if (best && covers(best, tokens)) {
        template = best;
      } else {
        template = new Template(tokens.slice(), key);
        this.add(leaf, template);
        // Seen in another order, the specific template came first (`()` before `(<*>)`): one
        // that covers it takes it over, so the result does not depend on the order of arrival.
        this.foldCovered(leaf, template, removed);
      }
      changed = true;
    }
    template.count++;
    template.lastUsed = ++this.clock;
    if (this.size > this.options.maxTemplates) this.evict(removed);
    return { template, changed, removed };
  }

  private leafOf(key: string): Template[] {
    let leaf = this.leaves.get(key);
    if (!leaf) {
      leaf = [];
      this.leaves.set(key, leaf);
    }
    return leaf;
  }

  private add(leaf: Template[], template: Template): void {
    leaf.push(template);
    this.size++;
  }

  /** Only plain words lead the tree: anything with digits, masks or inner punctuation may vary. */
  private leafKey(tokens: string[]): string {
    let key = String(tokens.length);
    const prefix = Math.min(this.options.depth - 2, tokens.length);
    for (let i = 0; i < prefix; i++) key += `\u0000${isWord(tokens[i]!) ? tokens[i] : WILDCARD}`;
    return key;
  }

  /**
   * The template covering the message that the matcher's trie would pick: the literal is
   * preferred to `<*>` at the first position where two covering templates differ.
   */
  private covering(leaf: Template[], tokens: string[]): Template | undefined {
    let best: Template | undefined;
    for (const t of leaf) {
      if (!covers(t, tokens)) continue;
      if (!best || morePrecise(t.tokens, best.tokens, tokens)) best = t;
    }
    return best;
  }

  private mostSimilar(leaf: Template[], tokens: string[]): Template | undefined {
    let best: Template | undefined;
    let bestScore = -1;
    for (const t of leaf) {
      let same = 0;
      for (let i = 0; i < tokens.length; i++) if (t.tokens[i] === tokens[i]) same++;
      const score = same / tokens.length;
      if (score >= this.options.similarity && score > bestScore) {
        best = t;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * Records the message's tokens in the positions where it differs from the template, and turns
   * each position into `<*>` once it has seen enough different tokens. Returns whether the
   * template changed; the message joins it if it now covers the message.
   */
  private generalise(template: Template, tokens: string[]): boolean {
    template.conflicts ??= new Map();
    let changed = false;
    for (let i = 0; i < tokens.length; i++) {
      const tok = template.tokens[i]!;
      const word = tokens[i]!;
      if (coversToken(tok, word)) continue;
      let seen = template.conflicts.get(i);
      if (!seen) {
        seen = new Set([tok]);
        template.conflicts.set(i, seen);
      }
      seen.add(word);
      // A variable the masking found marks the place as variable at once (also one in the same
      // frame: `(<*>)` at the place of `()`), and so do words that
      // differ only in their digits (U11/U01, node7/node12); constant-case words (NEW, RUNNING,
      // HTTPS) are states and kinds, which tell events apart, so they never merge.
      const variable = word === WILDCARD || (word.includes(WILDCARD) && commonFrame(tok, word) !== undefined);
      if (
        !variable &&
        !sameDigitShape(tok, word) &&
        (seen.size < this.options.generalizeAfter || allConstantCase(seen))
      )
        continue;
      template.tokens[i] = commonFrame(tok, word) ?? WILDCARD;
      template.conflicts.delete(i);
      changed = true;
    }
    if (changed) template.rename();
    return changed;
  }

  /** Folds into `into` the templates of its group it now covers: their messages are its messages. */
  private foldCovered(leaf: Template[], into: Template, removed: Template[]): void {
    for (let k = leaf.length - 1; k >= 0; k--) {
      const t = leaf[k]!;
      if (t === into || !covers(into, t.tokens)) continue;
      leaf.splice(k, 1);
      this.size--;
      into.count += t.count;
      into.lastUsed = Math.max(into.lastUsed, t.lastUsed);
      // A generalisation can spell a template exactly as another one (`(<*>)` met `(<*>)`): the
      // two are one, and its own id is no lineage of its own.
      for (const id of [...t.replaced, t.id]) if (id !== into.id && !into.replaced.includes(id)) into.replaced.push(id);
      t.gone = true;
      removed.push(t);
    }
  }

  /** Drops the least recently used tenth beyond the bound, so eviction is not paid per message. */
  private evict(removed: Template[]): void {
    const all = this.templates().sort((x, y) => x.lastUsed - y.lastUsed);
    const target = Math.floor(this.options.maxTemplates * 0.9);
    for (let k = 0; k < all.length - target; k++) {
      const t = all[k]!;
      const leaf = this.leaves.get(t.leaf)!;
      leaf.splice(leaf.indexOf(t), 1);
      if (leaf.length === 0) this.leaves.delete(t.leaf);
      t.evicted = true;
      t.gone = true;
      this.size--;
      removed.push(t);
    }
  }
}

const CONSTANT_CASE = /^[\p{Lu}][\p{Lu}\d_]*[,;:.!?)\]}]*$/u;

function allConstantCase(words: Set<string>): boolean {
  for (const w of words) if (w.length < 2 || !CONSTANT_CASE.test(w)) return false;
  return true;
}

/** 0: the token itself, 1: its frame (`(<*>)` for `(host)`), 2: `<*>` — the matcher's order. */
function rank(templateToken: string, token: string): number {
  return templateToken === WILDCARD ? 2 : templateToken === token ? 0 : 1;
}

function morePrecise(a: string[], b: string[], tokens: string[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const ra = rank(a[i]!, tokens[i]!);
    const rb = rank(b[i]!, tokens[i]!);
    if (ra !== rb) return ra < rb;
  }
  return false;
}

const frames = new Map<string, string | null>();

/** tokenFrame, remembered: the miner asks for the same few tokens' frames again and again. */
function frameOf(token: string): string | undefined {
  let frame = frames.get(token);
  if (frame === undefined) {
    if (frames.size >= 100_000) frames.clear();
    frame = tokenFrame(token) ?? null;
    frames.set(token, frame);
  }
  return frame ?? undefined;
}

function coversToken(general: string, token: string): boolean {
  return general === WILDCARD || general === token || (general.includes(WILDCARD) && frameOf(token) === general);
}

/** What two different tokens have in common around a variable: `(a)`/`(b)` → `(<*>)`, `(a)`/`(<*>)` → `(<*>)`. */
function commonFrame(a: string, b: string): string | undefined {
  const fa = a.includes(WILDCARD) ? a : frameOf(a);
  const fb = b.includes(WILDCARD) ? b : frameOf(b);
  return fa !== undefined && fa === fb && fa !== WILDCARD ? fa : undefined;
}

const DIGIT_RUNS = /\d+/g;

function sameDigitShape(a: string, b: string): boolean {
  if (a.includes(WILDCARD) || b.includes(WILDCARD) || !/\d/.test(a) || !/\d/.test(b)) return false;
  return a.replace(DIGIT_RUNS, '0') === b.replace(DIGIT_RUNS, '0');
}

function hasFramedToken(tokens: string[]): boolean {
  for (const token of tokens) if (token !== WILDCARD && token.includes(WILDCARD)) return true;
  return false;
}

function covers(general: Template, specific: string[]): boolean {
  const tokens = general.tokens;
  if (!general.framed) {
    for (let i = 0; i < tokens.length; i++) if (tokens[i] !== WILDCARD && tokens[i] !== specific[i]) return false;
    return true;
  }
  for (let i = 0; i < tokens.length; i++) if (!coversToken(tokens[i]!, specific[i]!)) return false;
  return true;
}

/** Letters (any script) with at most trailing punctuation, or a lone punctuation token. */
function isWord(token: string): boolean {
  if (token.includes(WILDCARD)) return false;
  let i = 0;
  while (i < token.length && /[\p{L}_-]/u.test(token[i]!)) i++;
  return i > 0 && /^[,;:.!?)\]}]*$/.test(token.slice(i)) ? true : i === 0 && /^\p{P}+$/u.test(token);
}
