import { z } from 'zod';
import { section } from '../../config/types.js';

/** The OTel Collector contrib bearertokenauth extension's keys, used as a server authenticator. */
export const bearerTokenAuthConfigSchema = section({
  /** Expected before the token in the header value: "Bearer TOKEN". Empty: the header is the token alone. */
  scheme: z.string().default('Bearer'),
  /** Header (gRPC metadata key) carrying the credentials. */
  header: z.string().min(1, 'cannot be empty').default('Authorization'),
  /** One accepted token; use ${env:NAME}, never a literal secret. */
  token: z.string().min(1, 'cannot be empty').optional(),
  /** Several accepted tokens (e.g. the old and the new one while rotating). */
  tokens: z.array(z.string().min(1, 'a token cannot be empty')).optional(),
  /**
   * A file of accepted tokens, one a line (blank lines and lines starting with # are ignored);
   * re-read when it changes, without a restart.
   */
  filename: z.string().min(1, 'cannot be empty').optional(),
})
  .refine((c) => c.token !== undefined || (c.tokens?.length ?? 0) > 0 || c.filename !== undefined, {
    message: 'set token, tokens or filename',
  })
  .refine((c) => c.filename === undefined || (c.token === undefined && c.tokens === undefined), {
    message: 'set either token/tokens or filename, not both (the file is the one source of tokens when given)',
  });

export type BearerTokenAuthConfig = z.output<typeof bearerTokenAuthConfigSchema>;
