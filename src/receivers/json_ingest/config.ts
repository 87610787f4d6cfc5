import { z } from 'zod';
import { hostPort, positiveInt, section } from '../../config/types.js';

export const jsonIngestConfigSchema = section({
  endpoint: hostPort('0.0.0.0:3002'),
  /** Largest request body, in bytes, as sent and after decompression; larger → 413. */
  max_request_body_size: positiveInt(20 * 1024 * 1024),
  /**
   * When set, every request must carry one of these keys as `Authorization: Bearer KEY` or
   * `X-API-Key: KEY` (use ${env:…} references, not literal keys).
   */
  api_keys: z.array(z.string().min(1, 'an API key cannot be empty')).default([]),
});

export type JsonIngestConfig = z.output<typeof jsonIngestConfigSchema>;
