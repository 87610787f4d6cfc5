/**
 * Builds large JSON text in one growing byte buffer. Concatenating a string per value made the
 * encoder spend half its time in garbage collection; here only the escaped copies of strings that
 * need escaping are allocated.
 */
const NEEDS_ESCAPE = /["\\$\u0000-\u001f\u2028\u2029\ud800-\udfff]/;

export class ByteWriter {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** Text known to be ASCII and to need no escaping: numbers, hex ids, punctuation, pre-escaped keys. */
  raw(text: string): void {
    this.ensure(text.length * 3);
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

  toString(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }
}
