import { parseRetryAfter } from '../../internal/retry-after.js';

/**
 * Clients for the two API shapes otelhouse talks to: OpenAI-compatible chat completions (OpenAI,
 * vLLM, LM Studio, llama.cpp server, …) and Ollama's generate API. Both use Node's fetch; a
 * request is bounded by its timeout and by the refiner's abort signal.
 */

export type ProviderKind = 'openai' | 'ollama';

export interface ProviderOptions {
  provider: ProviderKind;
  /** Base URL: `…/v1` for OpenAI-compatible servers, the server root for Ollama. */
  endpoint: string;
  model: string;
  apiKey: string;
  timeoutMs: number;
}

export interface Completion {
  text: string;
  promptTokens: number;
  completionTokens: number;
}

/** A failed request. `retryable`: 408, 429, 5xx, timeouts and network errors. */
export class LlmRequestError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** From a Retry-After header, when the server sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'LlmRequestError';
  }
}

export const DEFAULT_ENDPOINTS: Record<ProviderKind, string> = {
  openai: 'https://api.openai.com/v1',
  ollama: 'http://localhost:11434',
};

export class LlmProvider {
  private readonly url: string;

  constructor(private readonly options: ProviderOptions) {
    const base = options.endpoint.replace(/\/+$/, '');
    this.url = options.provider === 'openai' ? `${base}/chat/completions` : `${base}/api/generate`;
  }

  async complete(system: string, user: string, signal: AbortSignal): Promise<Completion> {
    const o = this.options;
    const body =
      o.provider === 'openai'
        ? {
            model: o.model,
            temperature: 0,
            messages: [
              { role: 'system', content: system },
              { role: 'user', content: user },
            ],
          }
        : { model: o.model, system, prompt: user, stream: false, format: 'json', options: { temperature: 0 } };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
    let response: Response;
    let reply: unknown;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
      });
      if (!response.ok) {
        const detail = (await response.text()).slice(0, 200);
        const status = response.status;
        throw new LlmRequestError(
          `HTTP ${status}${detail ? `: ${detail}` : ''}`,
          status === 408 || status === 429 || status >= 500,
          parseRetryAfter(response.headers.get('retry-after')),
        );
      }
      reply = await response.json();
    } catch (err) {
      if (err instanceof LlmRequestError) throw err;
      if (signal.aborted) throw new LlmRequestError('cancelled', false);
      const e = err as Error;
      if (e.name === 'TimeoutError') throw new LlmRequestError(`no answer within ${o.timeoutMs} ms`, true);
      if (e instanceof SyntaxError) throw new LlmRequestError(`the response is not JSON (${e.message})`, true);
      throw new LlmRequestError(`request failed: ${(e.cause as Error | undefined)?.message ?? e.message}`, true);
    }
    if (typeof reply !== 'object' || reply === null)
      throw new LlmRequestError('the response is not a JSON object', true);
    return o.provider === 'openai' ? openAiCompletion(reply) : ollamaCompletion(reply);
  }
}

function openAiCompletion(reply: unknown): Completion {
  const r = reply as {
    choices?: Array<{ message?: { content?: unknown } }>;
    usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
  };
  const text = r.choices?.[0]?.message?.content;
  if (typeof text !== 'string') throw new LlmRequestError('the response has no choices[0].message.content', true);
  return { text, promptTokens: count(r.usage?.prompt_tokens), completionTokens: count(r.usage?.completion_tokens) };
}

function ollamaCompletion(reply: unknown): Completion {
  const r = reply as { response?: unknown; prompt_eval_count?: unknown; eval_count?: unknown };
  if (typeof r.response !== 'string') throw new LlmRequestError('the response has no "response" text', true);
  return { text: r.response, promptTokens: count(r.prompt_eval_count), completionTokens: count(r.eval_count) };
}

function count(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}
