import t from 'tap';
import { SyslogParser, type SyslogMessage } from '../../../src/receivers/syslog/parser.js';
import { SyslogFrameDecoder, type SyslogFrame } from '../../../src/receivers/syslog/frame-decoder.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const auto = new SyslogParser({ protocol: 'auto', timeZone: 'UTC' });
const paris = new SyslogParser({ protocol: 'auto', timeZone: 'Europe/Paris', year: 2025 });
const ns = (iso: string, extraNanos = 0n) => BigInt(Date.parse(iso)) * 1_000_000n + extraNanos;

type Expect = Partial<SyslogMessage>;
const cases: Array<[string, string, Expect, SyslogParser?]> = [
  // RFC 5424 §6.5 examples
  [
    '5424 example 1',
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8",
    {
      format: 'rfc5424',
      priority: 34,
      version: 1,
      timestampNs: ns('2003-10-11T22:14:15.003Z'),
      hostname: 'mymachine.example.com',
      appname: 'su',
      procid: '',
      msgid: 'ID47',
      structuredData: null,
      message: "'su root' failed for lonvick on /dev/pts/8",
      error: '',
    },
  ],
  [
    '5424 example 2',
    "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
    { priority: 165, timestampNs: ns('2003-08-24T12:14:15Z', 3000n), hostname: '192.0.2.1', appname: 'myproc', procid: '8710', msgid: '', message: "%% It's time to make the do-nuts." },
  ],
  [
    '5424 example 3',
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] \ufeffAn application event log entry...',
    { appname: 'evntslog', msgid: 'ID47', structuredData: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' } }, message: 'An application event log entry...' },
  ],
  [
    '5424 example 4',
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
    { structuredData: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' }, 'examplePriority@32473': { class: 'high' } }, message: '' },
  ],
  [
    '5424 escaped SD values',
    '<13>1 2024-01-01T00:00:00Z h a p m [x@1 q="say \\"hi\\"" b="back\\\\slash" c="close\\]bracket"] body',
    { structuredData: { 'x@1': { q: 'say "hi"', b: 'back\\slash', c: 'close]bracket' } }, message: 'body' },
  ],
  ['5424 nil everything', '<0>1 - - - - - -', { priority: 0, timestampNs: 0n, hostname: '', appname: '', message: '', error: '' }],
  ['5424 nanoseconds', '<14>1 2024-02-29T23:59:59.123456789+00:00 h a - - - leap', { timestampNs: ns('2024-02-29T23:59:59Z', 123456789n), message: 'leap' }],
  ['5424 unicode message', '<14>1 2024-01-01T00:00:00Z h app - - - Grüße ✓ 日本語 🚀', { message: 'Grüße ✓ 日本語 🚀' }],
  ['5424 SD without params', '<14>1 2024-01-01T00:00:00Z h app - - [origin] m', { structuredData: { origin: {} }, message: 'm' }],
  ['5424 truncated SD', '<14>1 2024-01-01T00:00:00Z h app - - [x@1 a="unterminated', { format: 'raw', priority: 14, error: 'RFC 5424: unterminated value of x@1.a' }],
  ['5424 SD not closed', '<14>1 2024-01-01T00:00:00Z h app - - [x@1 a="1" msg', { format: 'raw', error: /SD-PARAM in \[x@1\] has no|not closed/ as unknown as string }],
  ['5424 bad timestamp', '<14>1 2024-13-01T00:00:00Z h app - - - m', { format: 'raw', error: 'RFC 5424: invalid TIMESTAMP "2024-13-01T00:00:00Z"' }],
  ['5424 missing fields', '<14>1 2024-01-01T00:00:00Z host', { format: 'raw', error: 'RFC 5424: missing HOSTNAME or the space after it' }],
  ['5424 no space before MSG', '<14>1 2024-01-01T00:00:00Z h a - - [x@1 a="1"]msg', { format: 'raw', error: 'RFC 5424: no space between STRUCTURED-DATA and MSG' }],
  // BSD / RFC 3164
  [
    '3164 classic',
    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    { format: 'rfc3164', priority: 34, timestampNs: ns('2026-10-11T22:14:15Z'), hostname: 'mymachine', appname: 'su', procid: '', message: "'su root' failed for lonvick on /dev/pts/8" },
  ],
  [
    '3164 tag[pid]',
    '<38>Nov 22 11:58:01 web-1 sshd[1234]: Accepted publickey for root from 10.0.0.7 port 51234 ssh2',
    { hostname: 'web-1', appname: 'sshd', procid: '1234', message: 'Accepted publickey for root from 10.0.0.7 port 51234 ssh2', timestampNs: ns('2026-11-22T11:58:01Z') },
  ],
  ['3164 space-padded day', '<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!', { hostname: '10.0.0.99', appname: '', message: 'Use the BFG!', timestampNs: ns('2026-02-05T17:32:18Z') }],
  ['3164 missing hostname', '<13>Feb  5 17:32:18 kernel: [12345.678] eth0: link up', { hostname: '', appname: 'kernel', message: '[12345.678] eth0: link up' }],
  ['3164 missing hostname with pid', '<30>Mar  1 08:00:00 systemd[1]: Started Daily apt upgrade.', { hostname: '', appname: 'systemd', procid: '1', message: 'Started Daily apt upgrade.' }],
  [
    '3164 ISO timestamp',
    '<13>2024-02-05T17:32:18.123456+01:00 host app[7]: iso time',
    { timestampNs: ns('2024-02-05T16:32:18Z', 123456000n), hostname: 'host', appname: 'app', procid: '7', message: 'iso time' },
  ],
  [
    '3164 Cisco sequence and star',
    '<189>123: *Mar  1 00:00:12.345: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to up',
    { priority: 189, timestampNs: ns('2026-03-01T00:00:12Z', 345000000n), hostname: '', appname: '%LINK-3-UPDOWN', message: 'Interface GigabitEthernet0/1, changed state to up' },
  ],
  [
    '3164 Cisco host before time',
    '<187>45: router1: *Mar  1 00:01:02: %SYS-5-CONFIG_I: Configured from console',
    { hostname: 'router1', appname: '%SYS-5-CONFIG_I', message: 'Configured from console', timestampNs: ns('2026-03-01T00:01:02Z') },
  ],
  ['3164 year in timestamp', '<13>Jan 15 2024 10:00:00 fw1 kernel: drop', { timestampNs: ns('2024-01-15T10:00:00Z'), hostname: 'fw1', appname: 'kernel' }],
  ['3164 December in January', '<13>Dec 31 23:59:59 h app: late', { timestampNs: ns('2025-12-31T23:59:59Z') }],
  ['3164 time zone and fixed year', '<13>Jul  1 12:00:00 h app: summer', { timestampNs: ns('2025-07-01T10:00:00Z') }, paris],
  ['3164 winter in Paris', '<13>Jan  1 12:00:00 h app: winter', { timestampNs: ns('2025-01-01T11:00:00Z') }, paris],
  ['3164 unicode', '<14>Nov 22 10:00:00 h app: Grüße ✓', { message: 'Grüße ✓' }],
  ['3164 odd spacing in message', '<14>Nov 22 10:00:00 h app:    spaced   out  ', { appname: 'app', message: '   spaced   out  ' }],
  ['3164 no tag', '<14>Nov 22 10:00:00 h just a message', { hostname: 'h', appname: '', message: 'just a message' }],
  ['3164 no timestamp', '<14>app: no time at all', { timestampNs: 0n, hostname: '', appname: 'app', message: 'no time at all' }],
  ['3164 empty message', '<14>Nov 22 10:00:00 h app:', { appname: 'app', message: '' }],
  [
    '3164 postfix',
    '<22>Nov 22 10:00:01 mail postfix/smtpd[2211]: connect from unknown[203.0.113.5]',
    { hostname: 'mail', appname: 'postfix/smtpd', procid: '2211', message: 'connect from unknown[203.0.113.5]' },
  ],
  ['3164 CRON', '<78>Nov 22 10:17:01 web-2 CRON[99]: (root) CMD (cd / && run-parts --report /etc/cron.hourly)', { priority: 78, appname: 'CRON', procid: '99' }],
  // PRI problems
  ['bad PRI', '<999>1 2024-01-01T00:00:00Z h a - - - m', { format: 'raw', priority: -1, error: 'invalid PRI', message: '<999>1 2024-01-01T00:00:00Z h a - - - m' }],
  ['PRI leading zero', '<013>Nov 22 10:00:00 h a: m', { format: 'raw', error: 'invalid PRI' }],
  ['no PRI', 'Nov 22 10:00:00 h a: m', { format: 'raw', error: 'missing PRI', message: 'Nov 22 10:00:00 h a: m' }],
  ['unclosed PRI', '<13 no close', { format: 'raw', error: 'invalid PRI' }],
  ['empty', '', { format: 'raw', error: 'missing PRI', message: '' }],
];

// Every facility and severity in both formats, with the fields they must give.
for (const facility of [0, 1, 3, 4, 10, 16, 23]) {
  for (const severity of [0, 3, 4, 6, 7]) {
    const pri = facility * 8 + severity;
    cases.push([
      `5424 pri ${pri}`,
      `<${pri}>1 2026-11-22T11:00:00Z host-${pri} app${pri} ${pri} MSG${pri} - text ${pri}`,
      { format: 'rfc5424', priority: pri, hostname: `host-${pri}`, appname: `app${pri}`, procid: String(pri), msgid: `MSG${pri}`, message: `text ${pri}` },
    ]);
    cases.push([
      `3164 pri ${pri}`,
      `<${pri}>Nov 22 11:00:00 host-${pri} app${pri}[${pri}]: text ${pri}`,
      { format: 'rfc3164', priority: pri, hostname: `host-${pri}`, appname: `app${pri}`, procid: String(pri), message: `text ${pri}`, timestampNs: ns('2026-11-22T11:00:00Z') },
    ]);
  }
}

t.test(`parser table: ${cases.length} real-world and generated lines`, async (t) => {
  t.ok(cases.length >= 60);
  for (const [name, line, expected, parser] of cases) t.match((parser ?? auto).parse(line, NOW), expected, name);
});

t.test('forced protocols', async (t) => {
  const strict = new SyslogParser({ protocol: 'rfc5424', timeZone: 'UTC' });
  t.match(strict.parse('<13>Nov 22 10:00:00 h a: m', NOW), { format: 'raw', error: /RFC 5424/ });
  const bsd = new SyslogParser({ protocol: 'rfc3164', timeZone: 'UTC' });
  t.match(bsd.parse('<13>1 2024-01-01T00:00:00Z h a - - - m', NOW), { format: 'rfc3164' });
});

t.test('TCP framing: octet counting and newlines, mixed, split anywhere, oversize', async (t) => {
  const stream = Buffer.from('11 <13>1 - - -\n<14>line one\r\n13 <15>two\nthree<16>x\n5 <1>ab');
  for (let cut = 1; cut < stream.length; cut += 3) {
    const d = new SyslogFrameDecoder(1024, 'truncate');
    const out: SyslogFrame[] = [];
    d.push(stream.subarray(0, cut), out);
    d.push(stream.subarray(cut), out);
    d.end(out);
    t.same(
      out.map((f) => f.text),
      ['<13>1 - - -', '<14>line one', '<15>two\nthree', '<16>x', '<1>ab'],
      `cut at ${cut}`,
    );
  }
  const long = new SyslogFrameDecoder(8, 'truncate');
  const out: SyslogFrame[] = [];
  long.push(Buffer.from('20 <13>0123456789abcdef\n<14>0123456789\n<15>ok\n'), out);
  t.same(out, [
    { text: '<13>0123', truncated: true },
    { text: '<14>0123', truncated: true },
    { text: '<15>ok', truncated: false },
  ]);
  const drop = new SyslogFrameDecoder(8, 'drop');
  const kept: SyslogFrame[] = [];
  drop.push(Buffer.from('20 <13>0123456789abcdef\n<14>0123456789\n<15>ok\n'), kept);
  t.same(
    kept.map((f) => f.text),
    ['<15>ok'],
  );
  t.equal(drop.dropped, 2);
});

t.test('TCP framing: the rest of an oversize message is skipped across chunks, whatever the cut', async (t) => {
  const stream = Buffer.from('30 <13>0123456789abcdefghijklmnop9 <14>after\n<15>' + 'z'.repeat(20) + '\n<16>last\n');
  for (const mode of ['truncate', 'drop'] as const) {
    for (let cut = 1; cut < stream.length; cut++) {
      const d = new SyslogFrameDecoder(8, mode);
      const out: SyslogFrame[] = [];
      d.push(stream.subarray(0, cut), out);
      d.push(stream.subarray(cut), out);
      d.end(out);
      const expected =
        mode === 'truncate'
          ? [
              { text: '<13>0123', truncated: true },
              { text: '<14>afte', truncated: true },
              { text: '<15>zzzz', truncated: true },
              { text: '<16>last', truncated: false },
            ]
          : [{ text: '<16>last', truncated: false }];
      t.same(out, expected, `${mode}, cut at ${cut}`);
      t.equal(d.dropped, mode === 'drop' ? 3 : 0, `${mode}, cut at ${cut}: dropped`);
    }
  }
});

t.test('RFC 3339 timestamps: repeats of the same second (cached) stay exact', async (t) => {
  const { parseRfc3339 } = await import('../../../src/receivers/syslog/timestamps.js');
  const base = BigInt(Date.parse('2026-11-22T10:00:00Z')) * 1_000_000n;
  t.equal(parseRfc3339('2026-11-22T10:00:00.5Z'), base + 500_000_000n);
  t.equal(parseRfc3339('2026-11-22T10:00:00.000000001Z'), base + 1n);
  t.equal(parseRfc3339('2026-11-22T10:00:00Z'), base);
  t.equal(parseRfc3339('2026-11-22T10:00:00.123456789Z'), base + 123_456_789n);
  t.equal(parseRfc3339('2026-11-22T10:00:00.1234567890Z'), undefined, 'ten fraction digits');
  t.equal(parseRfc3339('2026-11-22T10:00:00.12aZ'), undefined);
  t.equal(parseRfc3339('2026-11-22T10:00:00.25+01:00'), base - 3_600_000_000_000n + 250_000_000n, 'another zone is not the cached one');
  t.equal(parseRfc3339('2026-11-22T10:00:00.75+01:00'), base - 3_600_000_000_000n + 750_000_000n);
});
