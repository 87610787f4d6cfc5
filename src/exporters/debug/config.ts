import { z } from 'zod';
import { section } from '../../config/types.js';

export const debugConfigSchema = section({
  /** basic: one line per batch with counts; normal: one line per record; detailed: every field. */
  verbosity: z.enum(['basic', 'normal', 'detailed'], { error: 'expected basic, normal or detailed' }).default('basic'),
});

export type DebugConfig = z.output<typeof debugConfigSchema>;
