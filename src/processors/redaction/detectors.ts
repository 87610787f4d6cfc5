/**
 * Built-in detectors of secrets and personal data in log text. Each is a global regex whose match
 * is the secret itself, or holds it in a group beside context to keep (`password=`, `Bearer `).
 * Regexes and indexOf run as native code, faster than a character loop in JavaScript (measured:
 * a JS scan of a 110-character body took 310 ns, most detector regexes 30–90 ns, indexOf ~10 ns),
 * so each detector has a pretest of substrings it needs, which keeps its regex off strings it
 * cannot match.
 */

export const DETECTOR_NAMES = [
  'jwt',
  'password',
  'bearer_token',
  'aws_key',
  'email',
  'credit_card',
  'ipv6',
  'ipv4',
] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

export interface Detector {
  name: DetectorName;
  /** Global; with the `d` flag when the secret is a group. */
  regex: RegExp;
  /**
   * When set, the secret is the first of groups 1..secretGroups that took part in the match (the
   * rest of the match, `password=` or `Bearer `, is context kept as it is); else the whole match.
   */
  secretGroups?: number;
  /** A cheaper test that must pass before the detector's regex runs (substrings it needs). */
  pretest?: (s: string) => boolean;
  /** The shortest text the detector can match. */
  minLength: number;
  /**
   * A further check of a candidate secret (not a loopback address; a `key:` value that looks like
   * a secret), given the group holding it (0: the whole match).
   */
  validate?: (secret: string, group: number) => boolean;
  /**
   * Where the secrets lie in a candidate, for detectors whose regex finds a wider run: the next
   * [start, end) at or after `from`, or undefined when there is none left.
   */
  locate?: (candidate: string, from: number) => [number, number] | undefined;
}

/** Key names whose values are secrets, as the last part of a key (`db.password`, `X-Api-Key`, `client_secret`). */
export const SECRET_KEY_WORDS =
  'password|passwd|passphrase|pass_?phrase|secret|secret[_-]?key|client[_-]?secret|token|' +
  'access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|session[_-]?token|' +
  'api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|authorization';

/** A key (attribute, JSON field) whose value is a secret. */
export const SECRET_KEY = new RegExp(`(?:${SECRET_KEY_WORDS})$`, 'i');

/** Luhn checksum over the digits of a card number candidate (separators skipped). */
export function luhnValid(text: string): boolean {
  let sum = 0;
  let double = false;
  let digits = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) continue;
    digits++;
    let d = c;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits >= 13 && digits <= 19 && sum % 10 === 0;
}

/**
 * Card numbers: 13–19 digits of a known issuer range (Visa, Mastercard, American Express,
 * Discover, JCB, Diners, UnionPay, Maestro) with a valid Luhn checksum; groups separated by single
 * spaces or dashes. Requiring an issuer prefix and the checksum keeps order numbers and ids out.
 */
const CARD_PREFIX = new RegExp(
  '^(?:4|5[1-5]|2(?:2[2-9][1-9]|2[3-9]\\d|[3-6]\\d\\d|7[01]\\d|720)' +
    '|3[47]|3(?:0[0-5]|[68])|6(?:011|4[4-9]|5|2)|35(?:2[89]|[3-8]\\d)|5[06-8]|6\\d)',
);

/**
 * How card numbers are written: unbroken, or in groups as printed on cards (4-4-4-4, 4-4-4-4-3,
 * American Express 4-6-5, Diners 4-6-4) with one kind of separator. Runs of short counters
 * (`512 730 148 903 221`) are not taken for cards.
 */
const CARD_GROUPING = /^(?:\d+|\d{4}([ -])\d{3,6}(?:\1\d{3,6})*)$/;

function cardValid(text: string): boolean {
  if (!CARD_GROUPING.test(text)) return false;
  const digits = text.replace(/[ -]/g, '');
  return CARD_PREFIX.test(digits) && luhnValid(digits);
}

const CARD_MIN_DIGITS = 13;
const CARD_MAX_DIGITS = 19;

/**
 * The next card number in a run of digit groups (separated by single spaces or dashes) at or
 * after `from`: the whole run, or else the leftmost-longest span of whole groups that is one, so
 * a card next to another number is still found (`paid 4111111111111111 12/25`,
 * `charge 100 4111 1111 1111 1111`). Spans longer than 19 digits are never tried, so a long run
 * costs a bounded number of checks per group.
 */
export function locateCard(run: string, from: number): [number, number] | undefined {
  if (from === 0 && cardValid(run)) return [0, run.length];
  const starts: number[] = [];
  const ends: number[] = [];
  let groupStart = from;
  for (let i = from; i <= run.length; i++) {
    const c = i < run.length ? run.charCodeAt(i) : 32;
    if (c !== 32 && c !== 45) continue;
    if (i > groupStart) {
      starts.push(groupStart);
      ends.push(i);
    }
    groupStart = i + 1;
  }
  for (let a = 0; a < starts.length; a++) {
    let b = a;
    let digits = ends[a]! - starts[a]!;
    while (b + 1 < ends.length && digits + ends[b + 1]! - starts[b + 1]! <= CARD_MAX_DIGITS) {
      b++;
      digits += ends[b]! - starts[b]!;
    }
    for (; b >= a && digits >= CARD_MIN_DIGITS; b--) {
      if ((a > 0 || b < ends.length - 1 || from > 0) && cardValid(run.slice(starts[a], ends[b])))
        return [starts[a]!, ends[b]!];
      digits -= ends[b]! - starts[b]!;
    }
  }
  return undefined;
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const H = '[0-9a-fA-F]{1,4}';
const IPV6 = [
  `(?:${H}:){7}${H}`,
  `(?:${H}:){1,6}:${H}`,
  `(?:${H}:){1,5}(?::${H}){1,2}`,
  `(?:${H}:){1,4}(?::${H}){1,3}`,
  `(?:${H}:){1,3}(?::${H}){1,4}`,
  `(?:${H}:){1,2}(?::${H}){1,5}`,
  `${H}:(?::${H}){1,6}`,
  `::(?:ffff(?::0{1,4})?:)?${OCTET}(?:\\.${OCTET}){3}`,
  `::${H}(?::${H}){0,6}`,
  `(?:${H}:){1,7}:`,
].join('|');

/**
 * Addresses that identify no one: unspecified, loopback and broadcast (`listening on 0.0.0.0:8080`,
 * `connect to 127.0.0.1`, `::1`) are left as they are.
 */
function notSpecialAddress(ip: string): boolean {
  return !(ip === '0.0.0.0' || ip === '255.255.255.255' || ip.startsWith('127.') || ip === '::1' || ip === '::');
}

const IPV6_PRETEST = /[0-9a-fA-F]:[0-9a-fA-F]{0,4}:/;

/** A character of an unquoted `key=value` value. */
const VALUE = `[^\\s"',;&})\\]]`;
/** The password regex's group of an unquoted value after a bare `:`. */
const COLON_VALUE_GROUP = 5;
/** A digit or symbol, or a capital after a small letter (`aB`): what prose words do not have. */
const SECRET_LIKE = /[^A-Za-z]|[a-z][A-Z]/;

export function builtinDetectors(): Detector[] {
  return [
    {
      name: 'jwt',
      regex: /(?<![\w-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g,
      pretest: (s) => s.indexOf('eyJ') >= 0,
      minLength: 20,
    },
    {
      name: 'password',
      // key=value, key: value, "key": "value" (quoted values whole; after an auth scheme such as
      // `Authorization: Bearer`), the key ending in a secret word. The regex finds `=` or `:`
      // first and looks back for the key: measured 7x faster than scanning for the key words.
      // After a bare `:` an unquoted value must look like a secret (a digit, a symbol, or a
      // capital after a small letter): "Invalid password: authentication failed" is prose.
      regex: new RegExp(
        `[=:](?<=(?:${SECRET_KEY_WORDS})["']?\\s{0,2}[=:])\\s*` +
          `(?:(?:bearer|basic|digest|token)\\s+(${VALUE}+)|"((?:[^"\\\\\\n]|\\\\.)*)"|` +
          `'([^'\\n]*)'|(?<==\\s*)(${VALUE}+)|(${VALUE}+))`,
        'dgi',
      ),
      secretGroups: 5,
      validate: (secret, group) => group !== COLON_VALUE_GROUP || SECRET_LIKE.test(secret),
      pretest: (s) => s.indexOf('=') >= 0 || s.indexOf(':') >= 0,
      minLength: 5,
    },
    {
      name: 'password',
      // The password of user:password@host in a URL.
      regex: /[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:([^@\s/]+)@/dgi,
      secretGroups: 1,
      pretest: (s) => s.indexOf('://') >= 0,
      minLength: 8,
    },
    {
      name: 'bearer_token',
      regex: /\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)/dgi,
      secretGroups: 1,
      pretest: (s) => s.indexOf('earer') >= 0 || s.indexOf('EARER') >= 0,
      minLength: 15,
    },
    {
      name: 'aws_key',
      regex:
        /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
      minLength: 20,
    },
    {
      name: 'email',
      regex: new RegExp(
        '(?<![\\w.%+-])[A-Za-z0-9][\\w.%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?' +
          '(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\\.[A-Za-z]{2,24}(?![\\w-])',
        'g',
      ),
      pretest: (s) => s.indexOf('@') >= 0,
      minLength: 6,
    },
    {
      name: 'credit_card',
      // A whole run of digit groups (at least 13 digits), taken at once: the lookahead and
      // backreference make it atomic and the lookbehind keeps it from starting inside a run, so a
      // long run of numbers is read once, not once per group. locateCard finds the cards in it.
      // Led by `\d` so V8 scans for a digit before trying the rest (2x faster than lookbehind first).
      regex: /\d(?<![\w.-]\d|\d[ -]\d)(?=((?:[ -]?\d){12,}))\1(?![\w]|[.-]\d)/g,
      locate: locateCard,
      minLength: 13,
    },
    {
      name: 'ipv6',
      regex: new RegExp(`(?<![\\w:.])(?:${IPV6})(?:%[\\w.]+)?(?![\\w:]|\\.\\d)`, 'g'),
      validate: notSpecialAddress,
      pretest: (s) => s.indexOf(':') >= 0 && IPV6_PRETEST.test(s),
      minLength: 3,
    },
    {
      name: 'ipv4',
      regex: new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, 'g'),
      validate: notSpecialAddress,
      pretest: (s) => s.indexOf('.') >= 0,
      minLength: 7,
    },
  ];
}

/**
 * Hex ids and hashes (and UUIDs): no built-in detector can match a string made only of lower-case
 * hex digits and dashes with at least one letter, and the digit-led detectors (cards, IPv4) are
 * at their slowest on them (~250 ns for a SHA-256 digest), so they are passed over in one test.
 */
export const HEX_ID = /^(?=[0-9-]*[a-f])[0-9a-f-]+$/;
