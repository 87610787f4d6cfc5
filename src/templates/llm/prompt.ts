/**
 * What the LLM is asked and how its answer is read. The answer is plain JSON text inside the
 * model's reply: no provider-specific "JSON mode" is required, so every OpenAI-compatible server
 * (vLLM, LM Studio, llama.cpp) and Ollama can serve it.
 */

export const SYSTEM_PROMPT = [
  'You turn log messages into log templates.',
  'A template is the message with each variable part (ids, numbers, ' +
    'names, hosts, paths, addresses, durations, sizes) replaced by <*>,',
  'and every constant word and punctuation mark kept exactly as written.',
  "Keep the message's tokens (separated by single spaces): one <*> " +
    'stands for a whole variable token or for the variable part of a token,',
  'as in "blk_<*>", "user=<*>" or "<*>ms". Do not add or remove tokens.',
  'Messages that record the same kind of event share one template; ' +
    'messages that record different events never share one,',
  'even when they look alike ("Disk sda1 full" and "Disk quota exceeded" are different events).',
  'Answer with JSON only, in this form: {"templates":[{"template":"User <*> logged in","logs":[0,2]}]}',
  'where "logs" lists the numbers of the messages the template ' +
    'covers. Every message number appears in exactly one entry.',
].join(' ');

export function userPrompt(messages: readonly string[]): string {
  let text = 'Messages:\n';
  for (let i = 0; i < messages.length; i++) text += `${i}: ${messages[i]!.replace(/[\r\n]+/g, ' ')}\n`;
  return text;
}

/** One template the LLM proposed and the numbers of the messages it says it covers. */
export interface Proposal {
  template: string;
  logs: number[];
}

/** The reply held no answer in the expected shape; another attempt may do better. */
export class MalformedAnswerError extends Error {
  constructor(reason: string) {
    super(`malformed answer: ${reason}`);
    this.name = 'MalformedAnswerError';
  }
}

/**
 * Reads the proposals out of a reply: the JSON object may be wrapped in prose or a ``` fence.
 * Entries with a wrong shape make the whole answer malformed; message numbers out of range are
 * dropped from an entry (the validator then judges what is left).
 */
export function parseAnswer(reply: string, messageCount: number): Proposal[] {
  const from = reply.indexOf('{');
  const to = reply.lastIndexOf('}');
  if (from < 0 || to < from) throw new MalformedAnswerError('no JSON object in the reply');
  let answer: unknown;
  try {
    answer = JSON.parse(reply.slice(from, to + 1));
  } catch (err) {
    throw new MalformedAnswerError(`invalid JSON (${(err as Error).message})`);
  }
  const templates = (answer as { templates?: unknown } | null)?.templates;
  if (!Array.isArray(templates)) throw new MalformedAnswerError('no "templates" array');
  return templates.map((entry: unknown, k) => {
    const { template, logs } = (entry ?? {}) as { template?: unknown; logs?: unknown };
    if (typeof template !== 'string') throw new MalformedAnswerError(`templates[${k}].template is not a string`);
    if (!Array.isArray(logs)) throw new MalformedAnswerError(`templates[${k}].logs is not an array`);
    const numbers = logs.filter((n): n is number => Number.isInteger(n) && n >= 0 && n < messageCount);
    return { template, logs: [...new Set(numbers)] };
  });
}
