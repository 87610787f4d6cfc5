import type { AnyValue, Attributes } from '../../pipeline/model.js';
import { levelWordSeverity } from '../shared/severity.js';

/**
 * Finds the level of a record whose severity is unset, in the order a reader would: its
 * severity text, a level field (`level`, `severity`, … as parsed from JSON or logfmt; pino's and
 * bunyan's numeric levels too), then the first 256 characters of the text: `level=info` or
 * `"level":"warn"`, a bracketed word (`[WARN]`, `<error>`), an upper-case word standing alone
 * (`… ERROR …`, `ERROR:`), or a capitalised word before a colon at the start (`Error: …`).
 */

const LEVEL_KEYS = ['level', 'severity', 'lvl', 'log.level', 'loglevel', 'log_level', 'levelname', 'severity_text'];
const WORDS =
  'trace|debug|dbg|info|information|informational|notice|warn|warning|' +
  'error|err|severe|crit|critical|fatal|alert|panic|emerg|emergency';
const KEYED = new RegExp(
  `(?:^|[^\\w.])(?:level|lvl|severity|loglevel|log_level|log\\.level|levelname)["']?\\s*[=:]\\s*["']?(${WORDS})\\b`,
  'i',
);
const BRACKETED = new RegExp(`[[(<]\\s*(${WORDS})\\s*[\\])>]`, 'i');
const STANDALONE = new RegExp(`(?:^|[\\s|])(${WORDS.toUpperCase()})(?=$|[\\s:|,\\]-])`);
const LEADING = /^(Trace|Debug|Info|Notice|Warning|Warn|Error|Critical|Fatal|Panic):/;
const SCAN_LENGTH = 256;

/** pino / bunyan numeric levels. */
function numericLevel(n: number): number | undefined {
  if (n === 10) return 1;
  if (n === 20) return 5;
  if (n === 30) return 9;
  if (n === 40) return 13;
  if (n === 50) return 17;
  if (n === 60) return 21;
  return undefined;
}

export interface InferredSeverity {
  number: number;
  /** The level as written, for severityText. */
  text: string;
}

function fromValue(v: AnyValue | undefined): InferredSeverity | undefined {
  if (typeof v === 'string') {
    const n = levelWordSeverity(v.trim());
    return n === undefined ? undefined : { number: n, text: v.trim() };
  }
  if (typeof v === 'bigint' || typeof v === 'number') {
    const n = numericLevel(Number(v));
    return n === undefined ? undefined : { number: n, text: String(v) };
  }
  return undefined;
}

export function inferSeverity(
  severityText: string,
  attributes: Attributes,
  text: string | undefined,
): InferredSeverity | undefined {
  if (severityText) {
    const n = levelWordSeverity(severityText.trim());
    if (n !== undefined) return { number: n, text: severityText };
  }
  for (let i = 0; i < LEVEL_KEYS.length; i++) {
    const v = attributes[LEVEL_KEYS[i]!];
    if (v !== undefined) {
      const found = fromValue(v);
      if (found) return found;
    }
  }
  if (text === undefined || text.length === 0) return undefined;
  const head = text.length > SCAN_LENGTH ? text.slice(0, SCAN_LENGTH) : text;
  const m = KEYED.exec(head) ?? BRACKETED.exec(head) ?? STANDALONE.exec(head) ?? LEADING.exec(head);
  if (!m) return undefined;
  const word = m[1]!;
  return { number: levelWordSeverity(word)!, text: word };
}
