/**
 * Builds large JSON text in one growing byte buffer. Concatenating a string per value made the
 * encoder spend half its time in garbage collection; here only the escaped copies of strings that
 * need escaping are allocated.
 */
const NEEDS_ESCAPE = /["\\$\u0000-\u001f\u2028\u2029\ud800-\udfff]/;

/**
 * Strings up to this long are copied by a loop over their char codes: most values (ids, numbers,
 * attribute values) are short, and for them the call into Buffer#write costs more than the copy
 * (bench:encode).
 */
const SHORT = 64;

export class ByteWriter {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** Text that needs no escaping: numbers, hex ids, punctuation, pre-escaped keys and strings. */
  raw(text: string): void {
    this.ensure(text.length * 3);
    if (text.length <= SHORT && this.shortAscii(text)) return;
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  byte(code: number): void {
    this.ensure(1);
    this.buf[this.pos++] = code;
  }

  /**
   * A JSON string literal. `$` is escaped as \u0024 too, so the text can sit inside a $$…$$
   * heredoc literal of ClickHouse SQL.
   */
  jsonString(s: string): void {
    if (s.length <= SHORT && this.shortPlain(s)) return;
    if (NEEDS_ESCAPE.test(s)) {
      // A lone surrogate would reach ClickHouse as invalid UTF-8: store U+FFFD, as an encoder would.
      const escaped = JSON.stringify(s.toWellFormed());
      this.raw(escaped.includes('$') ? escaped.replaceAll('$', '\\u0024') : escaped);
      return;
    }
    this.ensure(s.length * 3 + 2);
    const buf = this.buf;
    buf[this.pos++] = 0x22;
    this.pos += buf.write(s, this.pos, 'utf8');
    buf[this.pos++] = 0x22;
  }

  /** Writes `s` if it is ASCII; false, with the position unmoved, if not (an escaped key may hold any text). */
  private shortAscii(s: string): boolean {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[pos++] = c;
    }
    this.pos = pos;
    return true;
  }

  /** Writes `s` quoted if it is printable ASCII needing no escape; false, with the position unmoved, if not. */
  private shortPlain(s: string): boolean {
    this.ensure(s.length + 2);
    const buf = this.buf;
    let pos = this.pos + 1;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      // Control characters, '"', '$', '\\' and anything beyond ASCII take the general path.
      if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x24 || c === 0x5c) return false;
      buf[pos++] = c;
    }
    buf[this.pos] = 0x22;
    buf[pos++] = 0x22;
    this.pos = pos;
    return true;
  }

  toString(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }

  /** What was written, as a view of the buffer: valid until the next write or reset. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Forgets what was written after the first `length` bytes. */
  truncate(length: number): void {
    this.pos = Math.min(this.pos, length);
  }

  /** Starts over, keeping the buffer at the size it grew to. */
  reset(): void {
    this.pos = 0;
  }
}
