/**
 * Splits a message into tokens and masks their variable parts, straight from UTF-8 bytes.
 *
 * This is the one definition of what a token and a variable are: the miner builds template tokens
 * from it and the matcher compares messages through it, so a message always matches the template
 * its own tokens would have mined. It runs on every record, so it works on bytes with lookup
 * tables and keeps its results in reusable typed arrays; strings are built only when the miner asks.
 *
 * Masking rules (each token on its own; tokens are separated by spaces and tabs):
 * - leading `( [ { < " '` and trailing `) ] } > " ' , ; : . ! ?` stay literal around the core;
 * - `key=value`: a value that is not a plain word becomes `<*>` (`uid=0` → `uid=<*>`); a word value
 *   (`tty=NODEVssh`, `user=root`) is left to the miner, which makes it `<*>` once it varies;
 * - paths and URLs (`/var/log/x.log`, `hdfs://host:9000/x`) become `<*>`;
 * - hex: cores of 8+ hex digits with a digit in them, or `0x…`, and UUIDs become `<*>`;
 * - a core with a number not glued to a letter is an identifier or a value as a whole and becomes
 *   `<*>` (`blk_-42`, `task_1445_0020_m_000005`, `host-7:8030`, `1.2.3.4`), as Loghub-2.0 treats a
 *   word concatenated with a variable; digits glued to letters stay (`SOCKS5`, `ext4`, `U11`), the
 *   miner decides those;
 * - month and weekday names next to a variable are part of a date;
 * - adjacent whole variables are one variable (a date, a list of block ids), so a list's length
 *   or a date's padding does not make a new template;
 * - a token longer than MAX_TOKEN_BYTES is a variable, and tokens past MAX_TOKENS are folded
 *   into one last variable token, so a pathological line costs bounded memory.
 */

export const WILDCARD = '<*>';

/** A message spaced otherwise than its template's single spaces (tabs, runs, blank ends). */
export const IRREGULAR_SPACING = 1;
/** A message holding the text `<*>` itself, which a rendered template cannot tell from a variable. */
export const WILDCARD_TEXT = 2;
/** A message with tokens joined into one variable (a date, `12 KB`): whitespace inside a token. */
export const MERGED_VARIABLES = 4;
const SPACE_BYTE = 0x20;
export const MAX_TOKENS = 256;
export const MAX_TOKEN_BYTES = 256;

const DIGIT = 1;
const LETTER = 2;
const HEX = 4;
const SPACE = 8;
const LEAD = 16;
const TRAIL = 32;
const KEY = 64;
/** `=` and `/`: a token holding neither, nor a digit, is a literal word (the scan's fast path). */
const MARK = 128;

const CLASS = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = DIGIT | HEX | KEY;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = LETTER | KEY;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = LETTER | KEY;
for (let c = 0x41; c <= 0x46; c++) CLASS[c]! |= HEX;
for (let c = 0x61; c <= 0x66; c++) CLASS[c]! |= HEX;
// Bytes of multi-byte UTF-8 characters count as letters: words in any script are words.
for (let c = 0x80; c <= 0xff; c++) CLASS[c] = LETTER;
for (const c of ' \t\r\n\v\f') CLASS[c.charCodeAt(0)] = SPACE;
for (const c of '([{<"\'') CLASS[c.charCodeAt(0)]! |= LEAD;
for (const c of ')]}>"\',;:.!?') CLASS[c.charCodeAt(0)]! |= TRAIL;
for (const c of '_.-') CLASS[c.charCodeAt(0)]! |= KEY;
for (const c of '=/') CLASS[c.charCodeAt(0)]! |= MARK;

const EQUALS = 0x3d;
const SLASH = 0x2f;
const COLON = 0x3a;
const DOT = 0x2e;
const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const MINUS = 0x2d;
const UNDERSCORE = 0x5f;
const ZERO = 0x30;
const LOWER_X = 0x78;
const WILDCARD_BYTES = [0x3c, 0x2a, 0x3e];

/*
 * Token identity is a 53-bit hash (two FNV-1a variants) of the masked token, so the matcher
 * compares numbers, not strings. A false match needs a message token to collide with one of the
 * few literals a template trie node holds: about n/2^53 per token.
 */
const FNV_PRIME = 0x01000193;
const SEED_A = 0x811c9dc5 | 0;
const SEED_B = 0x050c5d1f | 0;

function combine(a: number, b: number): number {
  return (a >>> 0) * 2097152 + (b >>> 11);
}

/** The hash of a masked token's text, equal to what TokenScan computes for a token masked to it. */
export function tokenHash(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  let a = SEED_A;
  let b = SEED_B;
  for (let i = 0; i < bytes.length; i++) {
    a = Math.imul(a ^ bytes[i]!, FNV_PRIME);
    b = Math.imul(b ^ bytes[i]!, 0x01000197);
  }
  return combine(a, b);
}

/** Tokens of one message: raw byte bounds, masked-token hashes and the spans of masked parts. */
export class TokenScan {
  count = 0;
  readonly start = new Int32Array(MAX_TOKENS);
  readonly end = new Int32Array(MAX_TOKENS);
  readonly hash = new Float64Array(MAX_TOKENS);
  /** 1 when the whole token is a variable (masks to exactly `<*>`). */
  readonly whole = new Uint8Array(MAX_TOKENS);
  /** The token's masked parts are spans [firstSpan[t], firstSpan[t] + spanCount[t]). */
  readonly firstSpan = new Int32Array(MAX_TOKENS);
  readonly spanCount = new Int32Array(MAX_TOKENS);
  /** A literal token's hash with its core as `<*>` (NO_FRAME: none; see frameHash), and that core's bounds. */
  readonly frame = new Float64Array(MAX_TOKENS);
  readonly frameStart = new Int32Array(MAX_TOKENS);
  readonly frameEnd = new Int32Array(MAX_TOKENS);
  /** 1 for a token joined from a number and its unit. */
  private readonly quantity = new Uint8Array(MAX_TOKENS);
  /** 1 for a literal month or weekday name, and how many the message has: most have none. */
  private readonly dateWord = new Uint8Array(MAX_TOKENS);
  private dateWords = 0;
  spans = 0;
  /** IRREGULAR_SPACING when the last message scanned is spaced otherwise than by single spaces. */
  shape = 0;
  spanStart = new Int32Array(64);
  spanEnd = new Int32Array(64);
  buf: Uint8Array = new Uint8Array(0);

  private a = 0;
  private b = 0;

  /** User masking rules: a token one of them matches in full is a variable. */
  constructor(private readonly rules: readonly RegExp[] = []) {}

  /** Scans buf[from, to). */
  scan(buf: Uint8Array, from: number, to: number): void {
    this.buf = buf;
    this.count = 0;
    this.spans = 0;
    this.dateWords = 0;
    let shape = 0;
    let i = from;
    while (i < to) {
      const gap = i;
      while (i < to && CLASS[buf[i]!]! & SPACE) i++;
      // Templates join their tokens with single spaces: any other spacing is the message's own.
      if (i >= to ? i > gap : this.count === 0 ? i > gap : i - gap !== 1 || buf[gap] !== SPACE_BYTE)
        shape |= IRREGULAR_SPACING;
      if (i >= to) break;
      // The token's end, the union of its byte classes and its hash as a literal, in one pass.
      let e = i;
      let classes = 0;
      let a = SEED_A;
      let b = SEED_B;
      for (; e < to; e++) {
        const c = buf[e]!;
        const cls = CLASS[c]!;
        if (cls & SPACE) break;
        classes |= cls;
        a = Math.imul(a ^ c, FNV_PRIME);
        b = Math.imul(b ^ c, 0x01000197);
      }
      if (this.count === MAX_TOKENS - 1) {
        // Fold the rest of the line into one variable token, trailing spaces excluded.
        let last = to;
        while (last > i && CLASS[buf[last - 1]!]! & SPACE) last--;
        if (last < to) shape |= IRREGULAR_SPACING;
        this.addWhole(i, last);
        this.shape = shape;
        return;
      }
      if (classes & (DIGIT | MARK) || e - i > MAX_TOKEN_BYTES || this.rules.length > 0)
        this.token(buf, i, e, combine(a, b), classes);
      else this.word(buf, i, e, combine(a, b));
      i = e;
    }
    if (this.dateWords > 0) this.maskDateWords();
    const before = this.count;
    this.mergeQuantities();
    this.mergeVariableRuns();
    this.shape = shape | (this.count < before ? MERGED_VARIABLES : 0);
  }

  /**
   * A number and its unit are one value (`1190 bytes`, `(1.16 KB)`, `<1 sec`), and so is a
   * quantity with its conversion in brackets (`1190 bytes (1.16 KB)`): a unit that changes, or a
   * conversion printed only past some size, does not make another event.
   */
  private mergeQuantities(): void {
    const n = this.count;
    let w = 0;
    for (let t = 0; t < n; t++) {
      if (w !== t) this.moveToken(t, w);
      this.quantity[w] = 0;
      if (w > 0 && this.endsInNumber(w - 1) && this.isUnit(w)) {
        this.joinValue(w - 1, w);
        if (w > 1 && this.quantity[w - 2] && this.whole[w - 2] && this.isConversion(w - 1)) {
          this.joinValue(w - 2, w - 1);
          w--;
        }
        continue;
      }
      w++;
    }
    this.count = w;
  }

  /** Token t is a number, or ends in one after leading punctuation (`(1.16`, `<1`). */
  private endsInNumber(t: number): boolean {
    const from = this.whole[t]
      ? this.start[t]!
      : this.spanCount[t] === 1 && this.spanEnd[this.firstSpan[t]!] === this.end[t]
        ? this.spanStart[this.firstSpan[t]!]!
        : -1;
    return from >= 0 && (CLASS[this.buf[from]!]! & DIGIT) !== 0;
  }

  /** A literal unit with nothing before it: `KB`, `KB,`, `sec)`. */
  private isUnit(t: number): boolean {
    if (this.whole[t] || this.spanCount[t]) return false;
    const from = this.start[t]!;
    if (this.frame[t] === NO_FRAME) return UNITS.has(this.hash[t]!);
    if (this.frameStart[t] !== from) return false;
    const to = this.frameEnd[t]!;
    this.a = SEED_A;
    this.b = SEED_B;
    this.feed(this.buf, from, to);
    return UNITS.has(combine(this.a, this.b));
  }

  /** A quantity in brackets: `(1.16 KB)`. */
  private isConversion(t: number): boolean {
    const s = this.start[t]!;
    const e = this.end[t]!;
    return (
      this.quantity[t] === 1 &&
      this.buf[s] === OPEN_PAREN &&
      this.spanStart[this.firstSpan[t]!] === s + 1 &&
      this.buf[this.spanEnd[this.firstSpan[t]!]!] === CLOSE_PAREN &&
      e > s
    );
  }

  /** Makes tokens a..b one token whose value runs from a's value to b's core (or b's `)`). */
  private joinValue(a: number, b: number): void {
    const buf = this.buf;
    const s = this.start[a]!;
    const e = this.end[b]!;
    const from = this.whole[a] ? s : this.spanStart[this.firstSpan[a]!]!;
    let to: number;
    if (this.quantity[b] && this.spanCount[b]) to = this.spanEnd[this.firstSpan[b]!]! + 1;
    else to = this.frame[b] === NO_FRAME ? e : this.frameEnd[b]!;
    this.end[a] = e;
    this.frame[a] = NO_FRAME;
    this.quantity[a] = 1;
    if (from === s && to === e) {
      this.hash[a] = WILDCARD_HASH;
      this.whole[a] = 1;
      this.spanCount[a] = 0;
      return;
    }
    this.a = SEED_A;
    this.b = SEED_B;
    this.feed(buf, s, from);
    this.feedWildcard();
    this.feed(buf, to, e);
    this.hash[a] = combine(this.a, this.b);
    this.whole[a] = 0;
    this.firstSpan[a] = this.spans;
    this.spanCount[a] = 1;
    this.pushSpan(from, to);
  }

  private moveToken(from: number, to: number): void {
    this.start[to] = this.start[from]!;
    this.end[to] = this.end[from]!;
    this.hash[to] = this.hash[from]!;
    this.whole[to] = this.whole[from]!;
    this.firstSpan[to] = this.firstSpan[from]!;
    this.spanCount[to] = this.spanCount[from]!;
    this.frame[to] = this.frame[from]!;
    this.frameStart[to] = this.frameStart[from]!;
    this.frameEnd[to] = this.frameEnd[from]!;
    this.quantity[to] = this.quantity[from]!;
  }

  /** Joins runs of adjacent whole variables into one variable token. */
  private mergeVariableRuns(): void {
    const n = this.count;
    let w = 0;
    for (let t = 0; t < n; t++) {
      if (w > 0 && this.whole[t] && this.whole[w - 1]) {
        this.end[w - 1] = this.end[t]!;
        continue;
      }
      if (w !== t) this.moveToken(t, w);
      w++;
    }
    this.count = w;
  }

  /** Month and weekday names next to a variable are part of a date: "Mon Jul  4 12:52:44 2005". */
  private maskDateWords(): void {
    const n = this.count;
    for (let t = 0; t < n; t++) {
      if (this.whole[t] || this.spanCount[t] || !this.dateWord[t]) continue;
      if ((t > 0 && this.whole[t - 1]) || (t + 1 < n && (this.whole[t + 1] || this.dateWord[t + 1]))) {
        this.hash[t] = WILDCARD_HASH;
        this.whole[t] = 1;
        this.frame[t] = NO_FRAME;
      }
    }
  }

  /** The masked text of token t, as the miner and templates spell it. */
  maskedText(t: number): string {
    const buf = this.buf;
    const s = this.start[t]!;
    const e = this.end[t]!;
    if (this.whole[t]) return WILDCARD;
    const n = this.spanCount[t]!;
    if (n === 0) return Buffer.prototype.utf8Slice.call(buf, s, e) as string;
    let out = '';
    let at = s;
    for (let k = this.firstSpan[t]!, last = k + n; k < last; k++) {
      out += Buffer.prototype.utf8Slice.call(buf, at, this.spanStart[k]!) as string;
      out += WILDCARD;
      at = this.spanEnd[k]!;
    }
    return out + (Buffer.prototype.utf8Slice.call(buf, at, e) as string);
  }

  /** The hash of token t's frame, or NO_FRAME. */
  frameHash(t: number): number {
    if (this.frame[t] !== FRAME_PENDING) return this.frame[t]!;
    this.a = SEED_A;
    this.b = SEED_B;
    this.feed(this.buf, this.start[t]!, this.frameStart[t]!);
    this.feedWildcard();
    this.feed(this.buf, this.frameEnd[t]!, this.end[t]!);
    return (this.frame[t] = combine(this.a, this.b));
  }

  /** Token t's frame (`(<*>)`, `user=<*>`), or undefined when it has none. */
  frameText(t: number): string | undefined {
    if (this.frame[t] === NO_FRAME) return undefined;
    const buf = this.buf;
    return (
      `${Buffer.prototype.utf8Slice.call(buf, this.start[t]!, this.frameStart[t]!) as string}` +
      `${WILDCARD}${Buffer.prototype.utf8Slice.call(buf, this.frameEnd[t]!, this.end[t]!) as string}`
    );
  }

  rawText(t: number): string {
    return Buffer.prototype.utf8Slice.call(this.buf, this.start[t]!, this.end[t]!) as string;
  }

  /** A token with no digit, `=` or `/`: a literal, framed by its leading and trailing punctuation. */
  private word(buf: Uint8Array, s: number, e: number, hash: number): void {
    let i = s;
    while (i < e && CLASS[buf[i]!]! & LEAD) i++;
    let j = e;
    while (j > i && CLASS[buf[j - 1]!]! & TRAIL) j--;
    const framed = (i < j || (i > s && j < e)) && (i > s || j < e);
    this.literal(s, e, hash, framed ? i : -1, framed ? j : -1);
  }

  /** Any token; `hash` is its hash as a literal, `classes` the union of its bytes' classes. */
  private token(buf: Uint8Array, s: number, e: number, hash: number, classes: number): void {
    if (e - s > MAX_TOKEN_BYTES) return this.addWhole(s, e);
    if (this.rules.length > 0) {
      const text = Buffer.prototype.utf8Slice.call(buf, s, e) as string;
      for (const rule of this.rules) if (rule.test(text)) return this.addWhole(s, e);
    }
    let i = s;
    while (i < e && CLASS[buf[i]!]! & LEAD) i++;
    let j = e;
    while (j > i && CLASS[buf[j - 1]!]! & TRAIL) j--;
    // Digits and no letter, `=` or `/` (a number, a time, an address): a variable without reading
    // the core again. Leading and trailing punctuation holds neither digits nor letters.
    if ((classes & (DIGIT | LETTER | MARK)) === DIGIT)
      return i === s && j === e ? this.addWhole(s, e) : this.addSpans(s, e, i, j);
    let digits = false;
    let letters = false;
    let hexOnly = true;
    let equals = -1;
    for (let k = i; k < j; k++) {
      const c = buf[k]!;
      const cls = CLASS[c]!;
      if (cls & DIGIT) digits = true;
      else if (cls & LETTER) {
        letters = true;
        if (!(cls & HEX)) hexOnly = false;
      } else if (c === EQUALS) {
        if (equals < 0) equals = k;
        hexOnly = false;
      } else if (c !== MINUS) hexOnly = false;
    }
    if (equals > i && equals + 1 < j && this.isKey(buf, i, equals)) {
      return this.isPlainWord(buf, equals + 1, j)
        ? this.literal(s, e, hash, equals + 1, j)
        : this.addSpans(s, e, equals + 1, j);
    }
    let variable = this.isPath(buf, i, j);
    if (!variable && digits) {
      variable = !letters || (hexOnly && j - i >= 8) || this.isHexNumber(buf, i, j);
      if (!variable) {
        const value = this.valueAfterWord(buf, i, j);
        if (value > 0) return this.addSpans(s, e, value, j);
        variable = this.hasLooseNumber(buf, i, j);
      }
    }
    // An empty core between brackets, `()`, frames an empty value.
    const framed = (i < j || (i > s && j < e)) && (i > s || j < e);
    if (!variable) return framed ? this.literal(s, e, hash, i, j) : this.literal(s, e, hash, -1, -1);
    return i === s && j === e ? this.addWhole(s, e) : this.addSpans(s, e, i, j);
  }

  /** Letters only (any script), `_` and `-`: a value the miner, not the masking, should judge. */
  private isPlainWord(buf: Uint8Array, from: number, to: number): boolean {
    for (let k = from; k < to; k++) {
      const c = buf[k]!;
      if (!(CLASS[c]! & LETTER) && c !== UNDERSCORE && c !== MINUS) return false;
    }
    return true;
  }

  /** `/x…` or `scheme://…`. */
  private isPath(buf: Uint8Array, from: number, to: number): boolean {
    if (to - from < 2) return false;
    if (buf[from] === SLASH) return true;
    for (let k = from + 1; k + 2 < to; k++)
      if (buf[k] === COLON && buf[k + 1] === SLASH && buf[k + 2] === SLASH) return true;
    return false;
  }

  /** `0x` and hex digits. */
  private isHexNumber(buf: Uint8Array, from: number, to: number): boolean {
    return to - from > 2 && buf[from] === ZERO && buf[from + 1] === LOWER_X && this.allHex(buf, from + 2, to);
  }

  /**
   * Where the value starts in `word.123`, `word:0x1f`, `word-6.1.26` (a word, one of `. : - =`, a
   * number): the word is the constant a user searches for (`core.<*>`, `vCores:<*>`). -1 otherwise.
   */
  private valueAfterWord(buf: Uint8Array, i: number, j: number): number {
    let k = i;
    while (k < j && (CLASS[buf[k]!]! & LETTER || buf[k] === UNDERSCORE)) k++;
    if (k === i || k + 1 >= j || !(CLASS[buf[k - 1]!]! & LETTER)) return -1;
    const sep = buf[k];
    if (sep !== DOT && sep !== COLON && sep !== MINUS && sep !== EQUALS) return -1;
    const value = k + 1;
    if (this.isHexNumber(buf, value, j)) return value;
    if (!(CLASS[buf[value]!]! & DIGIT)) return -1;
    for (let m = value; m < j; m++) if (CLASS[buf[m]!]! & LETTER) return -1;
    return value;
  }

  /** Whether the core's digits make it a value: a run not glued to a letter on either side. */
  private hasLooseNumber(buf: Uint8Array, i: number, j: number): boolean {
    let k = i;
    while (k < j) {
      if (!(CLASS[buf[k]!]! & DIGIT)) {
        k++;
        continue;
      }
      const runStart = k;
      while (k < j && CLASS[buf[k]!]! & DIGIT) k++;
      const glued = (runStart > i && CLASS[buf[runStart - 1]!]! & LETTER) || (k < j && CLASS[buf[k]!]! & LETTER);
      if (!glued) return true;
    }
    return false;
  }

  private isKey(buf: Uint8Array, from: number, to: number): boolean {
    if (!(CLASS[buf[from]!]! & LETTER)) return false;
    for (let k = from + 1; k < to; k++) if (!(CLASS[buf[k]!]! & KEY)) return false;
    return true;
  }

  private allHex(buf: Uint8Array, from: number, to: number): boolean {
    for (let k = from; k < to; k++) if (!(CLASS[buf[k]!]! & HEX)) return false;
    return true;
  }

  /**
   * A literal token; [frameFrom, frameTo) is its core (or a key's word value): a template that
   * generalised this token keeps what is around it (`(<*>)`, `user=<*>`), and the frame hash
   * is how the matcher finds that template for the token.
   */
  private literal(s: number, e: number, hash: number, frameFrom: number, frameTo: number): void {
    const t = this.count;
    this.start[t] = s;
    this.end[t] = e;
    this.hash[t] = hash;
    this.whole[t] = 0;
    this.firstSpan[t] = this.spans;
    this.spanCount[t] = 0;
    this.frameStart[t] = frameFrom;
    this.frameEnd[t] = frameTo;
    // Hashed only when a lookup needs it: the literal's own edge usually matches first.
    this.frame[t] = frameFrom < 0 ? NO_FRAME : FRAME_PENDING;
    const length = e - s;
    const dateWord = length >= DATE_WORD_MIN && length <= DATE_WORD_MAX && DATE_WORDS.has(hash) ? 1 : 0;
    this.dateWord[t] = dateWord;
    this.dateWords += dateWord;
    this.count = t + 1;
  }

  private addWhole(s: number, e: number): void {
    const t = this.count;
    this.start[t] = s;
    this.end[t] = e;
    this.hash[t] = WILDCARD_HASH;
    this.whole[t] = 1;
    this.firstSpan[t] = this.spans;
    this.spanCount[t] = 0;
    this.frame[t] = NO_FRAME;
    this.dateWord[t] = 0;
    this.count = t + 1;
  }

  /** A token with one masked span [ms, me) inside [s, e). */
  private addSpans(s: number, e: number, ms: number, me: number): void {
    const t = this.count;
    this.a = SEED_A;
    this.b = SEED_B;
    this.feed(this.buf, s, ms);
    this.feedWildcard();
    this.feed(this.buf, me, e);
    this.start[t] = s;
    this.end[t] = e;
    this.hash[t] = combine(this.a, this.b);
    this.whole[t] = 0;
    this.firstSpan[t] = this.spans;
    this.spanCount[t] = 1;
    this.frame[t] = NO_FRAME;
    this.dateWord[t] = 0;
    this.pushSpan(ms, me);
    this.count = t + 1;
  }

  private pushSpan(from: number, to: number): void {
    if (this.spans === this.spanStart.length) {
      const start = new Int32Array(this.spans * 2);
      const end = new Int32Array(this.spans * 2);
      start.set(this.spanStart);
      end.set(this.spanEnd);
      this.spanStart = start;
      this.spanEnd = end;
    }
    this.spanStart[this.spans] = from;
    this.spanEnd[this.spans] = to;
    this.spans++;
  }

  private feed(buf: Uint8Array, from: number, to: number): void {
    let a = this.a;
    let b = this.b;
    for (let k = from; k < to; k++) {
      const c = buf[k]!;
      a = Math.imul(a ^ c, FNV_PRIME);
      b = Math.imul(b ^ c, 0x01000197);
    }
    this.a = a;
    this.b = b;
  }

  private feedWildcard(): void {
    let a = this.a;
    let b = this.b;
    for (const c of WILDCARD_BYTES) {
      a = Math.imul(a ^ c, FNV_PRIME);
      b = Math.imul(b ^ c, 0x01000197);
    }
    this.a = a;
    this.b = b;
  }
}

export const WILDCARD_HASH = tokenHash(WILDCARD);
/** Token hashes are never negative. */
export const NO_FRAME = -1;
const FRAME_PENDING = -2;

/**
 * A fixed set of token hashes, open-addressed in a typed array: the scanner asks it about most
 * tokens, and a `Set` of doubles costs a hash of a heap number per lookup.
 */
class TokenHashSet {
  private readonly slots: Float64Array;
  private readonly mask: number;

  constructor(hashes: number[]) {
    let size = 16;
    while (size < hashes.length * 4) size *= 2;
    this.slots = new Float64Array(size).fill(NO_FRAME);
    this.mask = size - 1;
    for (const h of hashes) {
      let i = (h >>> 0) & this.mask;
      while (this.slots[i] !== NO_FRAME && this.slots[i] !== h) i = (i + 1) & this.mask;
      this.slots[i] = h;
    }
  }

  has(hash: number): boolean {
    for (let i = (hash >>> 0) & this.mask; ; i = (i + 1) & this.mask) {
      const slot = this.slots[i]!;
      if (slot === hash) return true;
      if (slot === NO_FRAME) return false;
    }
  }
}

/** Units of size and time that follow a number. */
const UNITS = new TokenHashSet(
  [
    'B',
    'KB',
    'MB',
    'GB',
    'TB',
    'PB',
    'kB',
    'KiB',
    'MiB',
    'GiB',
    'TiB',
    'byte',
    'bytes',
    'ns',
    'us',
    'µs',
    'ms',
    's',
    'sec',
    'secs',
    'second',
    'seconds',
    'min',
    'mins',
    'minutes',
    'h',
    'hours',
  ].map(tokenHash),
);

/** Byte lengths of the date words, `may` to `wednesday,`: a cheap test before the set's. */
const DATE_WORD_MIN = 3;
const DATE_WORD_MAX = 10;
const DATE_WORDS = new TokenHashSet(
  [
    'jan',
    'feb',
    'mar',
    'apr',
    'may',
    'jun',
    'jul',
    'aug',
    'sep',
    'sept',
    'oct',
    'nov',
    'dec',
    'january',
    'february',
    'march',
    'april',
    'june',
    'july',
    'august',
    'september',
    'october',
    'november',
    'december',
    'mon',
    'tue',
    'wed',
    'thu',
    'fri',
    'sat',
    'sun',
    'monday',
    'tuesday',
    'wednesday',
    'thursday',
    'friday',
    'saturday',
    'sunday',
  ]
    .flatMap((word) => [word, word[0]!.toUpperCase() + word.slice(1), word.toUpperCase()])
    .flatMap((spelling) => [spelling, `${spelling},`])
    .map(tokenHash),
);

/** Compiles user masking rules: each must match a whole token. */
export function compileMaskingRules(sources: readonly string[]): RegExp[] {
  return sources.map((source) => new RegExp(`^(?:${source})$`, 'u'));
}

/** The masked tokens of a message, as strings: the miner's and the tests' view of TokenScan. */
export function maskedTokens(text: string, scan = new TokenScan()): string[] {
  const buf = Buffer.from(text, 'utf8');
  scan.scan(buf, 0, buf.length);
  const out = new Array<string>(scan.count);
  for (let t = 0; t < scan.count; t++) out[t] = scan.maskedText(t);
  return out;
}

const frameScan = new TokenScan();

/**
 * The frame of a literal token as the scanner sees it (`(host)` → `(<*>)`, `user=root` →
 * `user=<*>`): undefined for a token holding a variable, or one without a frame.
 */
export function tokenFrame(token: string): string | undefined {
  if (token.includes(WILDCARD)) return undefined;
  const buf = Buffer.from(token, 'utf8');
  frameScan.scan(buf, 0, buf.length);
  return frameScan.count === 1 ? frameScan.frameText(0) : undefined;
}
