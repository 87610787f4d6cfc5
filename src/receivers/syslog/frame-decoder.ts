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
  private buf: Buffer = Buffer.alloc(0);
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
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, this.buf.length);
        this.skipBytes -= n;
        this.buf = this.buf.subarray(n);
      }
      if (this.skipLine) {
        const nl = this.buf.indexOf(LF);
        if (nl < 0) {
          this.buf = Buffer.alloc(0);
          return;
        }
        this.skipLine = false;
        this.buf = this.buf.subarray(nl + 1);
      }
      if (this.buf.length === 0) return;
      const first = this.buf[0]!;
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
    if (this.buf.length > 0 && this.skipBytes === 0 && !this.skipLine) this.emit(this.buf, out, false);
    this.buf = Buffer.alloc(0);
  }

  private octetCounted(out: SyslogFrame[]): 'wait' | 'next' | 'not-counted' {
    const limit = Math.min(this.buf.length, MAX_LENGTH_DIGITS + 1);
    let sp = -1;
    for (let i = 0; i < limit; i++) {
      const c = this.buf[i]!;
      if (c === SPACE) {
        sp = i;
        break;
      }
      if (c < 0x30 || c > 0x39) return 'not-counted';
    }
    if (sp < 0) return this.buf.length <= MAX_LENGTH_DIGITS ? 'wait' : 'not-counted';
    const length = Number(this.buf.toString('latin1', 0, sp));
    if (sp === 0 || length === 0) return 'not-counted';
    const start = sp + 1;
    if (length > this.maxSize) {
      if (this.buf.length < start + this.maxSize && this.onOversize === 'truncate') return 'wait';
      if (this.onOversize === 'truncate') this.emit(this.buf.subarray(start, start + this.maxSize), out, true);
      else this.dropped++;
      const available = Math.min(this.buf.length - start, length);
      this.skipBytes = length - available;
      this.buf = this.buf.subarray(start + available);
      return 'next';
    }
    if (this.buf.length < start + length) return 'wait';
    this.emit(this.buf.subarray(start, start + length), out, false);
    this.buf = this.buf.subarray(start + length);
    return 'next';
  }

  /** Returns false when more bytes are needed. */
  private newlineFramed(out: SyslogFrame[]): boolean {
    const nl = this.buf.indexOf(LF);
    if (nl < 0) {
      if (this.buf.length <= this.maxSize) return false;
      if (this.onOversize === 'truncate') this.emit(this.buf.subarray(0, this.maxSize), out, true);
      else this.dropped++;
      this.skipLine = true;
      this.buf = Buffer.alloc(0);
      return false;
    }
    let end = nl;
    if (end > 0 && this.buf[end - 1] === CR) end--;
    if (end > this.maxSize) {
      if (this.onOversize === 'truncate') this.emit(this.buf.subarray(0, this.maxSize), out, true);
      else this.dropped++;
    } else if (end > 0) {
      this.emit(this.buf.subarray(0, end), out, false);
    }
    this.buf = this.buf.subarray(nl + 1);
    return true;
  }

  /** A trailing line end inside an octet-counted frame is the sender's template, not the message. */
  private emit(bytes: Buffer, out: SyslogFrame[], truncated: boolean): void {
    let end = bytes.length;
    while (end > 0 && (bytes[end - 1] === LF || bytes[end - 1] === CR)) end--;
    out.push({ text: bytes.toString('utf8', 0, end), truncated });
  }
}
