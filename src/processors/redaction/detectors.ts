/**
 * Built-in detectors of secrets and personal data in log text. Each is a global regex whose match
 * is the secret itself, or holds it in a group beside context to keep (`password=`, `Bearer `).
 * A cheap character scan (`triggers`) decides which
 * detectors can match a string at all, so most strings run one or two regexes, not all of them.
 */

export const DETECTOR_NAMES = ['jwt', 'password', 'bearer_token', 'aws_key', 'email', 'credit_card', 'ipv6', 'ipv4'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

/** Trigger bits, found by one pass over the string's characters. */
export const T_AT = 1;
export const T_DIGIT_DOT = 2;
export const T_HEX_COLONS = 4;
export const T_LONG_DIGITS = 8;
export const T_EYJ = 16;
export const T_UPPER_RUN = 32;
export const T_ASSIGN = 64;
export const T_BE = 128;

export interface Detector {
  name: DetectorName;
  /** Global; with the `d` flag when the secret is a group. */
  regex: RegExp;
  /**
   * When set, the secret is the first of groups 1..secretGroups that took part in the match (the
   * rest of the match, `password=` or `Bearer `, is context kept as it is); else the whole match.
   */
  secretGroups?: number;
  /** The triggers that must all be present for the detector to run. */
  triggers: number;
  /** A cheaper regex that must match before the detector's own runs (its key words). */
  pretest?: RegExp;
  /** A further check of a candidate secret (the Luhn checksum of card numbers). */
  validate?: (secret: string) => boolean;
}

/** Key names whose values are secrets, as the last part of a key (`db.password`, `X-Api-Key`, `client_secret`). */
export const SECRET_KEY_WORDS = 'password|passwd|passphrase|pass_?phrase|secret|secret[_-]?key|client[_-]?secret|token|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|session[_-]?token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|authorization';

/** A key (attribute, JSON field) whose value is a secret. */
export const SECRET_KEY = new RegExp(`(?:^|[^a-z])(?:${SECRET_KEY_WORDS})$`, 'i');

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
const CARD_PREFIX = /^(?:4|5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|3(?:0[0-5]|[68])|6(?:011|4[4-9]|5|2)|35(?:2[89]|[3-8]\d)|5[06-8]|6\d)/;

function cardValid(text: string): boolean {
  const digits = text.replace(/[ -]/g, '');
  if (!CARD_PREFIX.test(digits)) return false;
  const sep = /[ -]/.exec(text)?.[0];
  if (sep !== undefined && text.split(sep).some((g) => g.length < 3 || /[ -]/.test(g))) return false;
  return luhnValid(digits);
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

export function builtinDetectors(): Detector[] {
  return [
    {
      name: 'jwt',
      regex: /(?<![\w-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g,
      triggers: T_EYJ,
    },
    {
      name: 'password',
      regex: new RegExp(
        // key=value, key: value, "key": "value" (quoted values whole; after an auth scheme such as
        // `Authorization: Bearer`), the key ending in a secret word; or the password of user:password@ in a URL.
        `(?<![\\w.-])[\\w.-]*(?:${SECRET_KEY_WORDS})["']?\\s*[=:]\\s*(?:(?:bearer|basic|digest|token)\\s+)?(?:"((?:[^"\\\\\\n]|\\\\.)*)"|'([^'\\n]*)'|([^\\s"',;&})\\]]+))` +
          `|[a-z][a-z0-9+.-]*://[^:/\\s@]+:([^@\\s/]+)@`,
        'dgi',
      ),
      secretGroups: 4,
      triggers: T_ASSIGN,
      pretest: /pass|secret|token|key|credential|authorization|:\/\//i,
    },
    {
      name: 'bearer_token',
      regex: /\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)/dgi,
      secretGroups: 1,
      triggers: T_BE,
    },
    {
      name: 'aws_key',
      regex: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
      triggers: T_UPPER_RUN,
    },
    {
      name: 'email',
      regex: /(?<![\w.%+-])[A-Za-z0-9][\w.%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])/g,
      triggers: T_AT,
    },
    {
      name: 'credit_card',
      regex: /(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d]|[.-]\d)/g,
      triggers: T_LONG_DIGITS,
      validate: cardValid,
    },
    {
      name: 'ipv6',
      regex: new RegExp(`(?<![\\w:.])(?:${IPV6})(?:%[\\w.]+)?(?![\\w:]|\\.\\d)`, 'g'),
      triggers: T_HEX_COLONS,
    },
    {
      name: 'ipv4',
      regex: new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, 'g'),
      triggers: T_DIGIT_DOT,
    },
  ];
}

/**
 * One pass over a string's characters giving the trigger bits present. Runs on every scanned
 * string, so it is a plain loop over char codes with no allocation.
 */
export function scanTriggers(s: string): number {
  let bits = 0;
  let digitRun = 0;
  let upperRun = 0;
  let hexColons = 0;
  let prev = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digitRun++;
      if (digitRun >= 13) bits |= T_LONG_DIGITS;
      upperRun++;
    } else {
      if ((c === 32 || c === 45) && prev >= 48 && prev <= 57) {
        // a single separator inside a card number keeps the run going
      } else digitRun = 0;
      if (c >= 65 && c <= 90) upperRun++;
      else upperRun = 0;
      switch (c) {
        case 64:
          bits |= T_AT;
          break;
        case 46:
          if (prev >= 48 && prev <= 57) bits |= T_DIGIT_DOT;
          break;
        case 58:
          bits |= T_ASSIGN;
          if (prev === 58 || (prev >= 48 && prev <= 57) || (prev >= 97 && prev <= 102) || (prev >= 65 && prev <= 70)) {
            if (++hexColons >= 2) bits |= T_HEX_COLONS;
          }
          break;
        case 61:
          bits |= T_ASSIGN;
          break;
        case 66:
        case 98: {
          const next = s.charCodeAt(i + 1);
          if (next === 101 || next === 69) bits |= T_BE;
          break;
        }
        case 121:
          if (prev === 101 && s.charCodeAt(i + 1) === 74) bits |= T_EYJ;
          break;
      }
    }
    if (upperRun >= 20) bits |= T_UPPER_RUN;
    prev = c;
  }
  return bits;
}
