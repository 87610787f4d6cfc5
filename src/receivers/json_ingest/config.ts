import { z } from 'zod';
import { section } from '../../config/types.js';
import { HTTP_TIMEOUTS_MESSAGE, checkHttpTimeouts, httpServerSettings } from '../http.js';

export const jsonIngestConfigSchema = section({
  ...httpServerSettings('0.0.0.0:3002'),
  /**
   * When set, every request must carry one of these keys as `Authorization: Bearer KEY` or
   * `X-API-Key: KEY` (use ${env:…} references, not literal keys). `auth:` with a bearertokenauth
   * extension does the same for every receiver; set one or the other.
   */
  api_keys: z.array(z.string().min(1, 'an API key cannot be empty')).default([]),
})
  .refine(checkHttpTimeouts, HTTP_TIMEOUTS_MESSAGE)
  .refine((c) => c.api_keys.length === 0 || c.auth === undefined, {
    message: 'set api_keys or auth, not both',
    path: ['api_keys'],
  });

export type JsonIngestConfig = z.output<typeof jsonIngestConfigSchema>;
