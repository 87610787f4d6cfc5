import { CompiledTemplateSet } from '../matcher.js';
import { TokenScan, WILDCARD, compileMaskingRules } from '../token-scanner.js';

export type RejectReason = 'parse' | 'no_match' | 'all_wildcards' | 'too_broad';

export type Verdict =
  { ok: true; tokens: string[]; text: string } | { ok: false; reason: RejectReason; detail: string };

/**
 * Decides whether a proposed template may enter the template set. It is first spelled the way
 * the miner spells templates (the LLM cannot know our masking: it may write `<*>s` where we mask
 * the whole token, or keep a literal IP we mask), then it must: have the messages' token count,
 * match every message it was proposed for through the real matcher, keep at least one literal
 * word, and have no more than `maxWildcardRatio` of its tokens be `<*>`.
 */
export class ProposalValidator {
  private readonly scan: TokenScan;

  constructor(
    masking: readonly string[],
    private readonly maxWildcardRatio: number,
  ) {
    this.scan = new TokenScan(compileMaskingRules(masking));
  }

  check(proposal: string, messages: readonly string[]): Verdict {
    const proposed = proposal.trim().split(/\s+/);
    if (proposed[0] === '' || messages.length === 0)
      return { ok: false, reason: 'parse', detail: 'empty template or no messages' };
    const scans = messages.map((m) => this.tokensOf(m));
    const tokens: string[] = [];
    for (let t = 0; t < proposed.length; t++) {
      const spelled = this.spell(proposed[t]!, t, scans, proposed.length);
      if (spelled === undefined)
        return {
          ok: false,
          reason: 'no_match',
          detail: `token ${t + 1} ("${proposed[t]}") does not fit every message`,
        };
      tokens.push(spelled);
    }
    let wild = 0;
    let literalWord = false;
    for (const token of tokens) {
      if (token === WILDCARD) wild++;
      else if (/\p{L}/u.test(token.replaceAll(WILDCARD, ''))) literalWord = true;
    }
    if (!literalWord) return { ok: false, reason: 'all_wildcards', detail: 'no literal word left' };
    if (wild > tokens.length * this.maxWildcardRatio) {
      return {
        ok: false,
        reason: 'too_broad',
        detail: `${wild} of ${tokens.length} tokens are <*> (limit ${this.maxWildcardRatio})`,
      };
    }
    const compiled = new CompiledTemplateSet([tokens]);
    for (const message of messages) {
      const buf = Buffer.from(message, 'utf8');
      this.scan.scan(buf, 0, buf.length);
      if (compiled.match(this.scan) !== 0)
        return { ok: false, reason: 'no_match', detail: `does not match "${message.slice(0, 120)}"` };
    }
    return { ok: true, tokens, text: tokens.join(' ') };
  }

  /** A message's tokens as [raw, masked, frame] triples. */
  private tokensOf(message: string): Array<[string, string, string | undefined]> {
    const buf = Buffer.from(message, 'utf8');
    this.scan.scan(buf, 0, buf.length);
    const out: Array<[string, string, string | undefined]> = [];
    for (let t = 0; t < this.scan.count; t++)
      out.push([this.scan.rawText(t), this.scan.maskedText(t), this.scan.frameText(t)]);
    return out;
  }

  /**
   * The miner's spelling of proposed token t: kept when every message's masked token, or its
   * frame (`(<*>)` for `(host)`), is it; otherwise, when it matches every message's raw token
   * (`<*>` as any text), the messages' common masked token, or `<*>` where they differ.
   * Undefined when it does not fit.
   */
  private spell(
    token: string,
    t: number,
    scans: Array<Array<[string, string, string | undefined]>>,
    length: number,
  ): string | undefined {
    if (scans.some((s) => s.length !== length)) return undefined;
    if (token === WILDCARD) return WILDCARD;
    if (scans.every((s) => s[t]![1] === token || s[t]![2] === token)) return token;
    const pieces = token.split(WILDCARD);
    if (!scans.every((s) => globMatches(pieces, s[t]![0]))) return undefined;
    const masked = scans[0]![t]![1];
    return scans.every((s) => s[t]![1] === masked) ? masked : WILDCARD;
  }
}

/**
 * Whether `text` is the pieces with anything between them (`<*>` as a glob star), in linear
 * time: a regex would backtrack for minutes on a proposal such as `a<*>a<*>a<*>b`, and proposals
 * come from a model that reads our logs.
 */
function globMatches(pieces: readonly string[], text: string): boolean {
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (pieces.length === 1) return text === first;
  if (first.length + last.length > text.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (let k = 1; k < pieces.length - 1; k++) {
    const found = text.indexOf(pieces[k]!, at);
    if (found < 0 || found + pieces[k]!.length > end) return false;
    at = found + pieces[k]!.length;
  }
  return true;
}
