import { newAttributes, type Attributes } from '../../pipeline/model.js';
import { zonedToUtcMs } from '../../internal/time-zones.js';
import { parseRfc3339 } from './timestamps.js';

export type SyslogProtocol = 'rfc5424' | 'rfc3164' | 'auto';

/** One message, as much of it as could be understood. `error` says why parsing stopped, if it did. */
export interface SyslogMessage {
  format: 'rfc5424' | 'rfc3164' | 'raw';
  /** PRI value 0–191, or -1 when the message had none. */
  priority: number;
  version: number;
  /** Unix nanoseconds; 0n when the message carried no time. */
  timestampNs: bigint;
  hostname: string;
  appname: string;
  procid: string;
  msgid: string;
  /** SD-ID → param name → value (maps of the log model, ready to be an attribute); null when none. */
  structuredData: Attributes | null;
  message: string;
  error: string;
}

export interface SyslogParserOptions {
  protocol: SyslogProtocol;
  /** IANA zone of the year-less local timestamps of BSD syslog. */
  timeZone: string;
  /** Year of BSD timestamps; undefined: the current year, or the previous one for dates ahead of now. */
  year?: number;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
const BOM = '\ufeff';
/** "Mmm dd hh:mm:ss" with optional fraction and year, as BSD syslog and network devices write it. */
const BSD_TIMESTAMP = new RegExp(
  '^[*.]?([A-Z][a-z]{2}) {1,2}(\\d{1,2})(?: (\\d{4}))? ' +
    '(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,6}))?(?: ?([A-Z]{3,4}))?:?(?: |$)',
);
const ISO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2}))(?: |$)/;
const CISCO_SEQUENCE = /^\d+: /;
const CISCO_HOST = /^([^\s:]+): /;
const BRACKETS = /[[\]]/;
const BAD_PARAM_NAME = /[\s\]"]/;
const LESS_THAN = 0x3c;
const GREATER_THAN = 0x3e;
const SPACE = 0x20;
const ZERO = 0x30;
const FIELD_NAMES = ['VERSION', 'TIMESTAMP', 'HOSTNAME', 'APP-NAME', 'PROCID', 'MSGID'];
const TAG = /^([^\s:[\]]{1,128})(?:\[([^\]\s]{0,128})\])?:(?: |$)/;

function emptyMessage(raw: string): SyslogMessage {
  return {
    format: 'raw',
    priority: -1,
    version: 0,
    timestampNs: 0n,
    hostname: '',
    appname: '',
    procid: '',
    msgid: '',
    structuredData: null,
    message: raw,
    error: '',
  };
}

/**
 * Parses RFC 5424 and RFC 3164 (BSD) syslog, with the deviations real devices send: missing
 * hostnames, ISO timestamps in BSD lines, Cisco sequence numbers and `*`-marked times, tags with
 * or without [pid]. Never throws: what cannot be parsed comes back with format "raw", the whole
 * text as message and the reason in `error`.
 */
export class SyslogParser {
  /** The six RFC 5424 header fields of the message being parsed. */
  private readonly fields = new Array<string>(6).fill('');

  constructor(private readonly options: SyslogParserOptions) {}

  parse(raw: string, nowMs: number): SyslogMessage {
    const out = emptyMessage(raw);
    const priority = priorityOf(raw);
    if (priority < 0) {
      out.error = raw.charCodeAt(0) === LESS_THAN ? 'invalid PRI' : 'missing PRI';
      return out;
    }
    const start = raw.indexOf('>', 1) + 1;
    const protocol = this.options.protocol;
    if (protocol === 'rfc5424' || (protocol === 'auto' && hasVersion(raw, start))) {
      this.parse5424(raw, start, out);
    } else {
      this.parse3164(raw.slice(start), out, nowMs);
    }
    if (out.error) {
      const failed = emptyMessage(raw);
      failed.priority = priority;
      failed.error = out.error;
      return failed;
    }
    out.priority = priority;
    return out;
  }

  /** The RFC 5424 header and the rest of `text` from `start` (after the PRI). */
  private parse5424(text: string, start: number, out: SyslogMessage): void {
    const fields = this.fields;
    let pos = start;
    for (let i = 0; i < 6; i++) {
      const sp = text.indexOf(' ', pos);
      if (sp < 0) {
        out.error = `RFC 5424: missing ${FIELD_NAMES[i]} or the space after it`;
        return;
      }
      fields[i] = text.slice(pos, sp);
      pos = sp + 1;
    }
    const [version, timestamp, hostname, appname, procid, msgid] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    out.format = 'rfc5424';
    out.version = Number(version);
    if (timestamp !== '-') {
      const ns = parseRfc3339(timestamp);
      if (ns === undefined) {
        out.error = `RFC 5424: invalid TIMESTAMP "${timestamp.slice(0, 40)}"`;
        return;
      }
      out.timestampNs = ns;
    }
    out.hostname = nil(hostname);
    out.appname = nil(appname);
    out.procid = nil(procid);
    out.msgid = nil(msgid);
    if (text[pos] === '-') {
      pos++;
    } else if (text[pos] === '[') {
      const sd = parseStructuredData(text, pos);
      if (typeof sd === 'string') {
        out.error = `RFC 5424: ${sd}`;
        return;
      }
      out.structuredData = sd.data;
      pos = sd.end;
    } else {
      out.error = 'RFC 5424: missing STRUCTURED-DATA';
      return;
    }
    if (pos < text.length) {
      if (text[pos] !== ' ') {
        out.error = 'RFC 5424: no space between STRUCTURED-DATA and MSG';
        return;
      }
      pos++;
    }
    let msg = text.slice(pos);
    if (msg.startsWith(BOM)) msg = msg.slice(1);
    out.message = msg;
  }

  private parse3164(text: string, out: SyslogMessage, nowMs: number): void {
    out.format = 'rfc3164';
    let rest = text;
    const seq = CISCO_SEQUENCE.exec(rest);
    if (seq) rest = rest.slice(seq[0].length);
    let m = BSD_TIMESTAMP.exec(rest);
    if (m) {
      out.timestampNs = this.bsdTime(m, nowMs);
      rest = rest.slice(m[0].length);
    } else if ((m = ISO_TIMESTAMP.exec(rest))) {
      out.timestampNs = parseRfc3339(m[1]!) ?? 0n;
      rest = rest.slice(m[0].length);
    } else if (seq) {
      // Cisco "seq: host: *Mar  1 …": the hostname comes before the time.
      const host = CISCO_HOST.exec(rest);
      const after = host ? BSD_TIMESTAMP.exec(rest.slice(host[0].length)) : null;
      if (host && after) {
        out.hostname = host[1]!;
        out.timestampNs = this.bsdTime(after, nowMs);
        rest = rest.slice(host[0].length + after[0].length);
      }
    }
    // A hostname is a token followed by a space that is not itself the tag ("sshd[12]:", "kernel:").
    if (!out.hostname) {
      const sp = rest.indexOf(' ');
      const first = sp > 0 ? rest.slice(0, sp) : '';
      if (first && !first.endsWith(':') && !BRACKETS.test(first) && out.timestampNs !== 0n) {
        out.hostname = first;
        rest = rest.slice(sp + 1);
      }
    }
    const tag = TAG.exec(rest);
    if (tag) {
      out.appname = tag[1]!;
      out.procid = tag[2] ?? '';
      rest = rest.slice(tag[0].length);
    }
    out.message = rest;
  }

  private bsdTime(m: RegExpExecArray, nowMs: number): bigint {
    const month = MONTHS[m[1]!];
    if (month === undefined) return 0n;
    const day = Number(m[2]);
    const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
    let year = m[3] ? Number(m[3]) : (this.options.year ?? new Date(nowMs).getUTCFullYear());
    let ms = zonedToUtcMs(year, month, day, hour, minute, second, this.options.timeZone);
    // A December line read in January belongs to last year.
    if (!m[3] && this.options.year === undefined && ms > nowMs + 31 * 86_400_000) {
      year--;
      ms = zonedToUtcMs(year, month, day, hour, minute, second, this.options.timeZone);
    }
    return BigInt(ms) * 1_000_000n + BigInt((m[7] ?? '').padEnd(9, '0') || '0');
  }
}

/** The PRI value of `<N>` at the start of `raw`: 0–191 without a leading zero; -1 otherwise. */
function priorityOf(raw: string): number {
  if (raw.charCodeAt(0) !== LESS_THAN) return -1;
  let value = 0;
  let i = 1;
  for (; i < raw.length && i <= 4; i++) {
    const c = raw.charCodeAt(i);
    if (c === GREATER_THAN) break;
    const digit = c - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  const digits = i - 1;
  if (raw.charCodeAt(i) !== GREATER_THAN || digits < 1 || digits > 3) return -1;
  if (digits > 1 && raw.charCodeAt(1) === ZERO) return -1;
  return value > 191 ? -1 : value;
}

/** RFC 5424's VERSION (1–99) and a space at `start`. */
function hasVersion(text: string, start: number): boolean {
  const first = text.charCodeAt(start) - ZERO;
  if (first < 1 || first > 9) return false;
  const second = text.charCodeAt(start + 1);
  if (second === SPACE) return true;
  return second - ZERO >= 0 && second - ZERO <= 9 && text.charCodeAt(start + 2) === SPACE;
}

function nil(field: string): string {
  return field === '-' ? '' : field;
}

/** STRUCTURED-DATA from `pos` (at "["): elements until the first character that is not "[". */
function parseStructuredData(text: string, start: number): { data: Attributes; end: number } | string {
  const data = newAttributes();
  let pos = start;
  let backslash = text.indexOf('\\', start);
  while (text[pos] === '[') {
    pos++;
    const idEnd = sdIdEnd(text, pos);
    if (idEnd < 0) return 'unterminated STRUCTURED-DATA element';
    const id = text.slice(pos, idEnd);
    if (!id || id.includes('=') || id.includes('"')) return `invalid SD-ID "${id.slice(0, 32)}"`;
    const params = (data[id] ?? (data[id] = newAttributes())) as Attributes;
    pos = idEnd;
    while (text[pos] === ' ') {
      pos++;
      const eq = text.indexOf('="', pos);
      if (eq < 0) return `SD-PARAM in [${id}] has no ="value"`;
      const name = text.slice(pos, eq);
      if (!name || BAD_PARAM_NAME.test(name)) return `invalid SD-PARAM name in [${id}]`;
      pos = eq + 2;
      // Copy runs between escapes at once; only \" \\ \] are escapes, any other backslash is literal.
      let value = '';
      for (;;) {
        const quote = text.indexOf('"', pos);
        if (quote < 0) return `unterminated value of ${id}.${name}`;
        // Searched again only once passed: most messages have no backslash, and a search per
        // value would read the whole rest of the message each time.
        if (backslash >= 0 && backslash < pos) backslash = text.indexOf('\\', pos);
        if (backslash < 0 || backslash > quote) {
          value += text.slice(pos, quote);
          pos = quote + 1;
          break;
        }
        const escaped = text[backslash + 1];
        if (escaped === '"' || escaped === '\\' || escaped === ']') {
          value += text.slice(pos, backslash) + escaped;
          pos = backslash + 2;
        } else {
          value += text.slice(pos, backslash + 1);
          pos = backslash + 1;
        }
      }
      params[name] = value;
    }
    if (text[pos] !== ']') return `STRUCTURED-DATA element [${id}] is not closed`;
    pos++;
  }
  return { data, end: pos };
}

const CLOSE_BRACKET = 0x5d;

/** Where an SD-ID starting at `from` ends: the first space or `]`; -1 when neither follows. */
function sdIdEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === SPACE || c === CLOSE_BRACKET) return i;
  }
  return -1;
}
