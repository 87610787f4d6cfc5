import { z } from 'zod';

/**
 * Compiles a regular expression written for the OTel Collector (Go's RE2 syntax) or for
 * JavaScript. RE2 spellings JavaScript lacks are rewritten: named groups `(?P<name>…)`, leading
 * flag groups `(?i)` / `(?s)` / `(?m)`, and `\A` / `\z` anchors. The `u` flag is used when the
 * pattern allows it (so `\p{L}` works), and left off otherwise (so `\-` outside a class works).
 * Throws SyntaxError with JavaScript's reason.
 */
export function compileUserRegex(source: string, extraFlags = ''): RegExp {
  let body = source;
  let flags = extraFlags;
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    for (const f of lead[1]!) if (f !== 'U' && !flags.includes(f)) flags += f;
    body = body.slice(lead[0].length);
  }
  body = body
    .replace(/\(\?P</g, '(?<')
    .replace(/^\\A/, '^')
    .replace(/\\z$/, '$');
  try {
    return new RegExp(body, `${flags}u`);
  } catch {
    return new RegExp(body, flags);
  }
}

/**
 * The config error for a regex that does not compile: JavaScript's reason, without its rewritten
 * copy of the pattern.
 */
export function regexIssue(err: unknown): string {
  const message = (err as Error).message;
  return (
    `not a valid regular expression: ` +
    `${/^Invalid regular expression: \/.*\/[a-z]*: (.*)$/s.exec(message)?.[1] ?? message}`
  );
}

/** A config string holding a regular expression; parsed into the compiled RegExp, errors give JavaScript's reason. */
export function regexSchema(extraFlags = '') {
  return z.string({ error: 'expected a regular expression' }).transform((source, ctx) => {
    try {
      return compileUserRegex(source, extraFlags);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: regexIssue(err) });
      return z.NEVER;
    }
  });
}

/** Names of the named groups of a compiled regex, in order of appearance. */
export function namedGroups(re: RegExp): string[] {
  const names: string[] = [];
  const groupName = /\(\?<([A-Za-z_$][\w$]*)>/g;
  for (let m = groupName.exec(re.source); m; m = groupName.exec(re.source)) names.push(m[1]!);
  return names;
}
