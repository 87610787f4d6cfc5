import { z } from 'zod';
import { positiveInt, section } from '../../config/types.js';
import { MAX_VALUE_DEPTH } from '../../pipeline/limits.js';
import { isValidTimeZone } from '../../internal/time-zones.js';
import { TimestampLayout, goLayoutToStrptime, isEpochLayout } from './timestamp-layout.js';

const LAYOUT_TYPES = ['strptime', 'gotime', 'epoch'] as const;

export const parseConfigSchema = section({
  json: section({
    /** Parse bodies that are a JSON object into attributes. */
    enabled: z.boolean().default(true),
    /** Nesting levels flattened into dotted keys; deeper objects are kept as JSON text. */
    max_depth: z
      .number()
      .int()
      .min(1)
      .max(MAX_VALUE_DEPTH, `must be at most ${MAX_VALUE_DEPTH}, the model's nesting limit`)
      .default(3),
    /** Longer bodies (in characters) are not parsed, and counted as too_large. */
    max_size: positiveInt(65_536),
  }),
  logfmt: section({
    /** Parse `key=value` (logfmt) bodies into attributes. */
    enabled: z.boolean().default(true),
    /** true: only bodies made entirely of pairs; false: also take the pairs out of free text. */
    strict: z.boolean().default(true),
  }),
  /** A parsed field that becomes the body (e.g. `msg`, `message`), instead of an attribute. */
  body_field: z.string().default(''),
  /** Parsed fields replace attributes of the same key already on the record. */
  overwrite: z.boolean().default(false),
  severity: section({
    /** Infer the severity of records without one from their text or a level field. */
    enabled: z.boolean().default(true),
  }),
  timestamp: section({
    /** Layout of the timestamp to find; unset: no timestamp extraction. */
    layout: z.string().min(1).optional(),
    /** strptime (`%Y-%m-%d %H:%M:%S`), gotime (`2006-01-02 15:04:05`) or epoch (`s`, `ms`, `us`, `ns`, `s.ms` …). */
    layout_type: z.enum(LAYOUT_TYPES, { error: `expected one of ${LAYOUT_TYPES.join(', ')}` }).default('strptime'),
    /** IANA time zone of timestamps that carry no offset. */
    location: z
      .string()
      .default('UTC')
      .refine(isValidTimeZone, { message: 'not an IANA time zone (e.g. Europe/Paris)' }),
    /** Read the timestamp from this attribute (after JSON / logfmt parsing) instead of the body text. */
    field: z.string().default(''),
  }).transform((t, ctx) => {
    if (t.layout === undefined) return { ...t, compiled: undefined, epoch: undefined };
    if (t.layout_type === 'epoch') {
      if (!isEpochLayout(t.layout)) {
        ctx.addIssue({
          code: 'custom',
          path: ['layout'],
          message: 'an epoch layout is one of s, ms, us, ns, s.ms, s.us, s.ns',
        });
        return z.NEVER;
      }
      if (!t.field) {
        ctx.addIssue({
          code: 'custom',
          path: ['field'],
          message: 'an epoch layout reads a number: name the attribute holding it',
        });
        return z.NEVER;
      }
      return { ...t, compiled: undefined, epoch: t.layout };
    }
    try {
      const strptime = t.layout_type === 'gotime' ? goLayoutToStrptime(t.layout) : t.layout;
      return { ...t, compiled: new TimestampLayout(strptime, t.location), epoch: undefined };
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['layout'], message: (err as Error).message });
      return z.NEVER;
    }
  }),
});

export type ParseConfig = z.output<typeof parseConfigSchema>;
