import type { Logger } from 'pino';
import type { CandidateSink } from '../engine.js';
import type { TemplateRef } from '../../pipeline/model.js';
import { MalformedAnswerError, SYSTEM_PROMPT, parseAnswer, userPrompt } from './prompt.js';
import { LlmProvider, LlmRequestError, type ProviderOptions } from './providers.js';
import { ProposalValidator, type RejectReason } from './validator.js';
import { ExponentialBackoff } from '../../internal/backoff.js';

export interface RefinerOptions {
  provider: ProviderOptions;
  /** Templates (candidates) per request. */
  batchSize: number;
  /** A batch smaller than batchSize is sent once its oldest candidate waited this long. */
  batchTimeoutMs: number;
  maxConcurrentBatches: number;
  /** Attempts after the first one, for retryable failures. */
  maxRetries: number;
  initialBackoffMs: number;
  /** Candidates (templates) waiting at most; past it new ones are dropped. */
  maxQueue: number;
  /** Requests a UTC day at most (retries count); 0: no limit. */
  dailyRequestBudget: number;
  maxWildcardRatio: number;
  /** The templates processor's masking rules, so validation tokenises as matching does. */
  masking: string[];
}

/** A template the LLM proposed that passed validation and entered the template set. */
export interface AcceptedTemplate {
  set: string;
  template: TemplateRef;
  /** Ids of the templates it took over (their stored records keep these ids). */
  replaced: bigint[];
  /** One of the messages it was proposed for. */
  sample: string;
}

/** Where the refiner applies what it learned and reports what it did. */
export interface RefinerHost {
  /** Puts an accepted template into the set; returns it as stored and the ids it replaced. */
  adopt(set: string, tokens: string[]): { template: TemplateRef; replaced: bigint[] };
  /** Makes what adopt changed visible to matching; called once after a reply's adoptions. */
  publish?(): void;
  accepted?(accepted: AcceptedTemplate): void;
  queueDepth?(depth: number): void;
  dropped?(reason: 'queue_full' | 'too_long'): void;
  request?(outcome: 'success' | 'failure', promptTokens: number, completionTokens: number): void;
  retry?(attempt: number, delayMs: number, reason: string): void;
  failure?(reason: string, templates: number): void;
  proposal?(result: 'accepted' | 'rejected' | 'unchanged', reason?: RejectReason): void;
}

interface Candidate {
  set: string;
  templateId: bigint;
  templateText: string;
  messages: string[];
  since: number;
  /** Reviews given up on an unavailable endpoint; a candidate is put back once. */
  givenUp: number;
}

/** Messages kept per candidate template: a few, so the LLM sees what varies. */
const SAMPLES_PER_TEMPLATE = 3;
/** Template ids remembered as reviewed, so a template costs one request in its life. */
const REVIEWED_MEMORY = 200_000;
/** Longer messages are not sent: they bloat the prompt (a model may refuse it) and the queue. */
const MAX_MESSAGE_LENGTH = 2048;
/** The longest wait between attempts, whatever the back-off or Retry-After say. */
const MAX_WAIT_MS = 60_000;
const JITTER = 0.1;

/**
 * Sends the templates the miner handled poorly to an LLM and adopts the templates it proposes
 * once they pass validation. It is fed from the ingestion path (as the engine's CandidateSink)
 * and never makes that path wait: offering is a map look-up, a full queue drops, and requests
 * run in the background with a concurrency cap, retries with exponential back-off and ±10 %
 * jitter (Retry-After when the server gives one), and then give up with a logged reason.
 */
export class LlmRefiner implements CandidateSink {
  private readonly provider: LlmProvider;
  private readonly validator: ProposalValidator;
  private readonly queued = new Map<bigint, Candidate>();
  private readonly reviewed = new Set<bigint>();
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private day = -1;
  private requestsToday = 0;
  private budgetLogged = false;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  /** After a review was given up on an unavailable endpoint, nothing is sent before this time. */
  private pausedUntil = 0;

  constructor(
    private readonly options: RefinerOptions,
    private readonly host: RefinerHost,
    private readonly logger: Logger,
  ) {
    this.provider = new LlmProvider(options.provider);
    this.validator = new ProposalValidator(options.masking, options.maxWildcardRatio);
  }

  get queueDepth(): number {
    return this.queued.size;
  }

  get inFlight(): number {
    return this.running.size;
  }

  wants(templateId: bigint): boolean {
    if (this.closed || this.reviewed.has(templateId)) return false;
    const c = this.queued.get(templateId);
    return c === undefined || c.messages.length < SAMPLES_PER_TEMPLATE;
  }

  offer(set: string, template: TemplateRef, message: string): void {
    if (!this.wants(template.id)) return;
    if (message.length > MAX_MESSAGE_LENGTH) {
      this.host.dropped?.('too_long');
      return;
    }
    const queued = this.queued.get(template.id);
    if (queued) {
      if (!queued.messages.includes(message)) queued.messages.push(message);
      return;
    }
    if (this.queued.size >= this.options.maxQueue) {
      this.host.dropped?.('queue_full');
      return;
    }
    this.queued.set(template.id, {
      set,
      templateId: template.id,
      templateText: template.text,
      messages: [message],
      since: Date.now(),
      givenUp: 0,
    });
    this.host.queueDepth?.(this.queued.size);
    this.schedule();
  }

  /** Settles once nothing is queued or in flight (for the accuracy harness and tests). */
  idle(): Promise<void> {
    if (this.queued.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops what is queued and cancels what is in flight: refinement is best effort. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.queued.clear();
    this.abort.abort();
    await Promise.allSettled([...this.running]);
    this.wake();
  }

  private schedule(): void {
    while (!this.closed && this.queued.size > 0 && this.running.size < this.options.maxConcurrentBatches) {
      const now = Date.now();
      if (now < this.pausedUntil) {
        this.wakeAt(this.pausedUntil);
        return;
      }
      if (!this.withinBudget(now)) return;
      const oldest = this.queued.values().next().value!;
      const due = oldest.since + this.options.batchTimeoutMs;
      if (this.queued.size < this.options.batchSize && due > now) {
        this.wakeAt(due);
        return;
      }
      this.dispatch();
    }
  }

  private wakeAt(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.schedule();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }

  private withinBudget(now: number): boolean {
    const budget = this.options.dailyRequestBudget;
    if (budget <= 0) return true;
    const day = Math.floor(now / 86_400_000);
    if (day !== this.day) {
      this.day = day;
      this.requestsToday = 0;
      this.budgetLogged = false;
    }
    if (this.requestsToday < budget) return true;
    if (!this.budgetLogged) {
      this.logger.warn({ budget }, 'LLM daily request budget used up; template review resumes at 00:00 UTC');
      this.budgetLogged = true;
    }
    this.wakeAt((day + 1) * 86_400_000);
    return false;
  }

  private dispatch(): void {
    const batch: Candidate[] = [];
    for (const c of this.queued.values()) {
      if (batch.length === this.options.batchSize) break;
      batch.push(c);
    }
    for (const c of batch) {
      this.queued.delete(c.templateId);
      this.remember(c.templateId);
    }
    this.host.queueDepth?.(this.queued.size);
    const run = this.review(batch)
      .catch((err: unknown) => {
        // A bug here must not take ingestion down with it: the batch is dropped, loudly.
        this.host.failure?.('internal', batch.length);
        this.logger.error({ err, templates: batch.length }, 'LLM template review failed');
      })
      .finally(() => {
        this.running.delete(run);
        this.schedule();
        this.wake();
      });
    this.running.add(run);
  }

  private remember(id: bigint): void {
    this.reviewed.add(id);
    if (this.reviewed.size > REVIEWED_MEMORY) this.reviewed.delete(this.reviewed.values().next().value!);
  }

  private wake(): void {
    if (this.queued.size > 0 || this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async review(batch: Candidate[]): Promise<void> {
    const messages: string[] = [];
    const owner: Candidate[] = [];
    for (const c of batch) {
      for (const m of c.messages) {
        messages.push(m);
        owner.push(c);
      }
    }
    const reply = await this.ask(messages, batch.length);
    if (reply === 'unavailable') {
      this.putBack(batch);
      return;
    }
    if (reply === undefined) return;
    let adopted = false;
    for (const proposal of reply) {
      const covered = proposal.logs.map((i) => messages[i]!);
      const verdict = this.validator.check(proposal.template, covered);
      if (!verdict.ok) {
        this.host.proposal?.('rejected', verdict.reason);
        this.logger.debug(
          { template: proposal.template, reason: verdict.reason, detail: verdict.detail },
          'LLM template rejected',
        );
        continue;
      }
      const candidates = new Set(proposal.logs.map((i) => owner[i]!));
      if ([...candidates].every((c) => c.templateText === verdict.text)) {
        this.host.proposal?.('unchanged');
        continue;
      }
      for (const set of new Set([...candidates].map((c) => c.set))) {
        const { template, replaced } = this.host.adopt(set, verdict.tokens);
        adopted = true;
        this.remember(template.id);
        this.host.proposal?.('accepted');
        this.host.accepted?.({ set, template, replaced, sample: covered[0]! });
        this.logger.info(
          { template: template.text, replaced: replaced.length, set: set || undefined },
          'LLM template accepted',
        );
      }
    }
    if (adopted) this.host.publish?.();
  }

  /**
   * After a review was given up on an unavailable endpoint (timeouts, 5xx, 429, network), its
   * templates go back in the queue once, and nothing is sent for a cool-down, so an outage
   * neither loses the reviews nor turns into a stream of doomed requests.
   */
  private putBack(batch: Candidate[]): void {
    const cooldown = Math.min(MAX_WAIT_MS, this.options.initialBackoffMs * 2 ** (this.options.maxRetries + 1));
    this.pausedUntil = Date.now() + cooldown;
    for (const c of batch) {
      if (c.givenUp++ > 0 || this.queued.size >= this.options.maxQueue) continue;
      this.reviewed.delete(c.templateId);
      c.since = Date.now();
      this.queued.set(c.templateId, c);
    }
    this.host.queueDepth?.(this.queued.size);
  }

  /**
   * The parsed proposals for a batch; after giving up (logged and counted), 'unavailable' when the
   * endpoint could not answer (worth another try later) and undefined otherwise.
   */
  private async ask(
    messages: string[],
    templates: number,
  ): Promise<ReturnType<typeof parseAnswer> | 'unavailable' | undefined> {
    const user = userPrompt(messages);
    const backoff = new ExponentialBackoff({
      initialMs: this.options.initialBackoffMs,
      maxMs: Infinity,
      multiplier: 2,
      randomizationFactor: JITTER,
    });
    for (let attempt = 0; ; attempt++) {
      let failure: { reason: string; retryable: boolean; retryAfterMs?: number | undefined };
      try {
        this.requestsToday++;
        const completion = await this.provider.complete(SYSTEM_PROMPT, user, this.abort.signal);
        this.host.request?.('success', completion.promptTokens, completion.completionTokens);
        try {
          return parseAnswer(completion.text, messages.length);
        } catch (err) {
          if (!(err instanceof MalformedAnswerError)) throw err;
          failure = { reason: err.message, retryable: true };
        }
      } catch (err) {
        if (!(err instanceof LlmRequestError)) throw err;
        this.host.request?.('failure', 0, 0);
        failure = { reason: err.message, retryable: err.retryable, retryAfterMs: err.retryAfterMs };
      }
      if (this.closed) return undefined;
      const exhausted = attempt >= this.options.maxRetries;
      const overBudget = !exhausted && failure.retryable && !this.withinBudget(Date.now());
      if (!failure.retryable || exhausted || overBudget) {
        const suffix = !failure.retryable
          ? ''
          : exhausted
            ? ` (after ${attempt + 1} attempts)`
            : ' (daily request budget used up)';
        const kind = overBudget ? 'budget' : failureKind(failure.reason);
        this.host.failure?.(kind, templates);
        this.logger.warn(
          { templates, attempts: attempt + 1, reason: failure.reason + suffix },
          'gave up on an LLM template review',
        );
        return failure.retryable && kind !== 'malformed_answer' && kind !== 'budget' ? 'unavailable' : undefined;
      }
      const backoffWait = backoff.next();
      const delay = Math.min(MAX_WAIT_MS, failure.retryAfterMs ?? backoffWait);
      this.host.retry?.(attempt + 1, delay, failure.reason);
      if (!(await sleep(delay, this.abort.signal))) return undefined;
    }
  }
}

/** A short, bounded label for the failures metric. */
function failureKind(reason: string): string {
  if (reason.startsWith('malformed answer')) return 'malformed_answer';
  if (reason.startsWith('no answer within')) return 'timeout';
  const status = /^HTTP (\d{3})/.exec(reason);
  if (status) return `http_${status[1]}`;
  if (reason === 'cancelled') return 'cancelled';
  return 'network';
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
