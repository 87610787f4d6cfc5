import { z } from 'zod';
import { duration, nonNegativeInt, positiveInt, section } from '../../config/types.js';

const llmConfigSchema = z
  .strictObject({
    provider: z.enum(['openai', 'ollama'], { error: 'must be openai or ollama' }),
    /** Base URL; defaults to OpenAI's API or Ollama on localhost. */
    endpoint: z.url({ protocol: /^https?$/, error: 'not an http(s) URL' }).optional(),
    model: z.string({ error: 'required: the model name' }).min(1, 'required: the model name'),
    api_key: z.string().default(''),
    batch_size: z.number().int().min(1).max(100).default(10),
    batch_timeout: duration('2s'),
    max_concurrent_batches: z.number().int().min(1).max(100).default(5),
    max_retries: z.number().int().min(0).max(20).default(3),
    initial_backoff: duration('1s'),
    timeout: duration('30s'),
    max_queue: positiveInt(10000),
    /** Requests a UTC day at most, retries included; 0: no limit. */
    daily_request_budget: nonNegativeInt(0),
    /** Share of a proposed template's tokens that may be `<*>`. */
    max_wildcard_ratio: z.number().min(0).max(1).default(0.6),
  })
  .refine((c) => c.timeout > 0, { message: 'timeout must be greater than 0', path: ['timeout'] });

const maskingRule = z.strictObject({
  /** Shown in logs and docs only. */
  name: z.string().default(''),
  /** Matched against whole tokens (space-separated words); a match becomes `<*>`. */
  regex: z.string().refine(
    (source) => {
      try {
        new RegExp(source, 'u');
        return true;
      } catch {
        return false;
      }
    },
    { message: 'not a valid regular expression' },
  ),
});

export const templatesConfigSchema = section({
  /** `body`, or the name of a log attribute whose string value is mined instead. */
  field: z.string().min(1).default('body'),
  /** Keep a separate template set per service.name. */
  per_service: z.boolean().default(false),
  /**
   * Batches with more records than this are matched on the worker pool; smaller ones inline.
   * Below about 5,000 a worker's round trip costs more than it saves (docs/decisions.md).
   */
  parallel_threshold: nonNegativeInt(5000),
  /** Matching worker threads; defaults to one fewer than the cores (at least 1); 0 matches inline only. */
  pool_size: z.number().int().min(0).max(64).optional(),
  /** Share of tokens a message must share with a template to be merged into it (0 to 1). */
  similarity: z.number().min(0).max(1).default(0.5),
  /** Drain's tree depth (≥ 3): messages are grouped by token count and their first depth − 2 words. */
  depth: z.number().int().min(3).max(16).default(4),
  /** A literal word becomes `<*>` once this many different words were seen in its place. */
  generalize_after: z.number().int().min(2).max(100).default(3),
  /** Most templates per set; past it the least recently used are evicted. */
  max_templates: positiveInt(10000),
  /** Extra masking rules, applied before the built-in ones. */
  masking: z.array(maskingRule).default([]),
  /** Also set the attribute log.record.template to the template text. */
  add_template_attribute: z.boolean().default(false),
  /** How often templates are reloaded from storage (other pods' templates); 0 loads only at start. */
  refresh_interval: duration('1m'),
  /** Optional: have an LLM propose templates for what the miner handles poorly. Off when absent. */
  llm: llmConfigSchema.optional(),
});

export type TemplatesConfig = z.output<typeof templatesConfigSchema>;
