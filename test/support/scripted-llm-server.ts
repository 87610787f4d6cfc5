import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for an LLM provider (none can run here): a loopback HTTP server speaking the
 * OpenAI chat-completions and Ollama generate shapes, answering from a script. Each request takes
 * the next step; when the script runs out, `fallback` answers. It records every request (time,
 * path, the numbered messages of the prompt) and the most requests it held at once.
 */

export type Step =
  /** A proposal list, computed from the request's messages. */
  | { answer: (messages: string[]) => Array<{ template: string; logs: number[] }> }
  /** The model's reply text as is (e.g. malformed JSON). */
  | { text: string }
  /** A 200 whose body is this text as is (e.g. not the provider's JSON shape). */
  | { body: string }
  /** An HTTP error status, with headers (e.g. Retry-After). */
  | { status: number; headers?: Record<string, string> }
  /** Never answers (until the server closes). */
  | { hang: true }
  /** Holds the answer until release() is called. */
  | { held: Step };

export interface RecordedRequest {
  at: number;
  path: string;
  model: string;
  authorization: string | undefined;
  messages: string[];
}

export class ScriptedLlmServer {
  readonly requests: RecordedRequest[] = [];
  maxConcurrent = 0;
  private concurrent = 0;
  private readonly server: Server;
  private readonly open = new Set<ServerResponse>();
  private readonly heldReleases: Array<() => void> = [];
  private port = 0;

  constructor(
    private readonly script: Step[] = [],
    private readonly fallback: Step = { text: '{"templates":[]}' },
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Base URL for the provider's `endpoint` key. */
  endpoint(provider: 'openai' | 'ollama'): string {
    return provider === 'openai' ? `http://127.0.0.1:${this.port}/v1` : `http://127.0.0.1:${this.port}`;
  }

  get inFlight(): number {
    return this.concurrent;
  }

  /** Answers every held request. */
  release(): void {
    for (const r of this.heldReleases.splice(0)) r();
  }

  async close(): Promise<void> {
    this.release();
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as { model: string; messages?: Array<{ role: string; content: string }>; prompt?: string };
    const ollama = req.url === '/api/generate';
    if (!ollama && req.url !== '/v1/chat/completions') {
      res.writeHead(404).end('not found');
      return;
    }
    const prompt = ollama ? body.prompt! : body.messages!.find((m) => m.role === 'user')!.content;
    const messages = [...prompt.matchAll(/^(\d+): (.*)$/gm)].map((m) => m[2]!);
    this.requests.push({ at: Date.now(), path: req.url!, model: body.model, authorization: req.headers.authorization, messages });
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    this.open.add(res);
    res.on('close', () => {
      this.concurrent--;
      this.open.delete(res);
    });
    let step = this.script.shift() ?? this.fallback;
    while ('held' in step) {
      await new Promise<void>((resolve) => this.heldReleases.push(resolve));
      step = step.held;
    }
    if ('hang' in step) return;
    if ('body' in step) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(step.body);
      return;
    }
    if ('status' in step) {
      res.writeHead(step.status, { 'content-type': 'text/plain', ...step.headers }).end(`scripted ${step.status}`);
      return;
    }
    const text = 'text' in step ? step.text : JSON.stringify({ templates: step.answer(messages) });
    const reply = ollama
      ? { model: body.model, response: text, done: true, prompt_eval_count: 120, eval_count: 30 }
      : {
          id: 'scripted',
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 },
        };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  }
}

/**
 * A rule-based "model" for scripted answers: a message's template is its text with the words in
 * `variables` (and numbers) replaced by `<*>`; messages with the same template are grouped.
 */
export function templater(variables: Iterable<string>): (messages: string[]) => Array<{ template: string; logs: number[] }> {
  const vars = new Set(variables);
  return (messages) => {
    const groups = new Map<string, number[]>();
    messages.forEach((m, i) => {
      const template = m
        .split(' ')
        .map((w) => (vars.has(w) || /^\d+$/.test(w) ? '<*>' : w))
        .join(' ');
      (groups.get(template) ?? groups.set(template, []).get(template)!).push(i);
    });
    return [...groups].map(([template, logs]) => ({ template, logs }));
  };
}
