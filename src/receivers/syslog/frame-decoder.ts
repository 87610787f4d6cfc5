/** One message cut from a TCP stream. */
export interface SyslogFrame {
  text: string;
  truncated: boolean;
}

const SPACE = 0x20;
const LF = 0x0a;
const CR = 0x0d;
const MAX_LENGTH_DIGITS = 10;

/**
 * Cuts a TCP syslog stream into messages, by octet counting (RFC 6587 §3.4.1: "LEN SP MSG") or by
 * newline (§3.4.2), decided frame by frame: a frame that starts with a digit is octet-counted,
 * anything else ends at LF. Messages longer than `maxSize` bytes are truncated or dropped, and the
 * rest of them is skipped without being buffered.
 */
export class SyslogFrameDecoder {
  /** Unread bytes are buf[pos, buf.length): frames are cut by moving pos, not by new Buffer views. */
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Bytes still to skip of an octet-counted message that was too long. */
  private skipBytes = 0;
  /** Skipping the rest of a newline-framed message that was too long. */
  private skipLine = false;
  dropped = 0;

  constructor(
    private readonly maxSize: number,
    private readonly onOversize: 'truncate' | 'drop',
  ) {}

  push(chunk: Buffer, out: SyslogFrame[]): void {
    this.buf = this.pos >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
    for (;;) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, this.buf.length - this.pos);
        this.skipBytes -= n;
        this.pos += n;
      }
      if (this.skipLine) {
        const nl = this.buf.indexOf(LF, this.pos);
        if (nl < 0) {
          this.pos = this.buf.length;
          return;
        }
        this.skipLine = false;
        this.pos = nl + 1;
      }
      if (this.pos >= this.buf.length) return;
      const first = this.buf[this.pos]!;
      if (first >= 0x30 && first <= 0x39) {
        const consumed = this.octetCounted(out);
        if (consumed === 'wait') return;
        if (consumed === 'next') continue;
      }
      if (!this.newlineFramed(out)) return;
    }
  }

  /** The leftover of a stream that ended without a final LF is a message too. */
  end(out: SyslogFrame[]): void {
    if (this.pos < this.buf.length && this.skipBytes === 0 && !this.skipLine)
      this.emit(this.pos, this.buf.length, out, false);
    this.buf = Buffer.alloc(0);
    this.pos = 0;
  }

  private octetCounted(out: SyslogFrame[]): 'wait' | 'next' | 'not-counted' {
    const buf = this.buf;
    const at = this.pos;
    const available = buf.length - at;
    const limit = Math.min(available, MAX_LENGTH_DIGITS + 1);
    let sp = -1;
    let length = 0;
    for (let i = 0; i < limit; i++) {
      const c = buf[at + i]!;
      if (c === SPACE) {
        sp = i;
        break;
      }
      if (c < 0x30 || c > 0x39) return 'not-counted';
      length = length * 10 + (c - 0x30);
    }
    if (sp < 0) return available <= MAX_LENGTH_DIGITS ? 'wait' : 'not-counted';
    if (sp === 0 || length === 0) return 'not-counted';
    const start = at + sp + 1;
    if (length > this.maxSize) {
      if (buf.length < start + this.maxSize && this.onOversize === 'truncate') return 'wait';
      if (this.onOversize === 'truncate') this.emit(start, start + this.maxSize, out, true);
      else this.dropped++;
      const taken = Math.min(buf.length - start, length);
      this.skipBytes = length - taken;
      this.pos = start + taken;
      return 'next';
    }
    if (buf.length < start + length) return 'wait';
    this.emit(start, start + length, out, false);
    this.pos = start + length;
    return 'next';
  }

  /** Returns false when more bytes are needed. */
  private newlineFramed(out: SyslogFrame[]): boolean {
    const at = this.pos;
    const nl = this.buf.indexOf(LF, at);
    if (nl < 0) {
      if (this.buf.length - at <= this.maxSize) return false;
      if (this.onOversize === 'truncate') this.emit(at, at + this.maxSize, out, true);
      else this.dropped++;
      this.skipLine = true;
      this.pos = this.buf.length;
      return false;
    }
    let end = nl;
    if (end > at && this.buf[end - 1] === CR) end--;
    if (end - at > this.maxSize) {
      if (this.onOversize === 'truncate') this.emit(at, at + this.maxSize, out, true);
      else this.dropped++;
    } else if (end > at) {
      this.emit(at, end, out, false);
    }
    this.pos = nl + 1;
    return true;
  }

  /** A trailing line end inside an octet-counted frame is the sender's template, not the message. */
  private emit(from: number, to: number, out: SyslogFrame[], truncated: boolean): void {
    const buf = this.buf;
    let end = to;
    while (end > from && (buf[end - 1] === LF || buf[end - 1] === CR)) end--;
    out.push({ text: Buffer.prototype.utf8Slice.call(buf, from, end) as string, truncated });
  }
}
