import { z } from 'zod';

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;

/** Parses a Go-style duration ("5s", "1m30s", "250ms") into milliseconds; undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  if (s.length === 0) return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < s.length) {
    const start = DURATION_PART.lastIndex;
    const m = DURATION_PART.exec(s);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  }
  return total;
}

/** A duration written as "5s", "200ms", "1m30s" (or 0); the parsed value is milliseconds. */
export function duration(defaultValue: string) {
  return z
    .union([z.string(), z.literal(0)])
    .default(defaultValue)
    .transform((v, ctx) => {
      const ms = typeof v === 'number' ? 0 : parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(v)} (use e.g. 200ms, 5s, 1m)` });
        return z.NEVER;
      }
      return ms;
    });
}

export interface HostPort {
  host: string;
  port: number;
}

/** Splits "host:port", "[::1]:4317" or ":4317"; undefined when it is not a valid address. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** A listen address "host:port"; port 0 asks the OS for a free one. */
export function hostPort(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .refine((v) => parseHostPort(v) !== undefined, { message: 'not host:port (e.g. 0.0.0.0:4318)' });
}

export function positiveInt(defaultValue: number) {
  return z
    .number({ error: 'expected a number' })
    .int('expected a whole number')
    .positive('must be greater than 0')
    .default(defaultValue);
}

export function nonNegativeInt(defaultValue: number) {
  return z
    .number({ error: 'expected a number' })
    .int('expected a whole number')
    .nonnegative('must be 0 or more')
    .default(defaultValue);
}

/** An object section: unknown keys are errors, and omitted sections still get their defaults. */
export function section<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape).prefault({} as never);
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Parses "512MiB", "1GiB", "100MB", "4096" into bytes; undefined if it is not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  return unit === undefined ? undefined : Math.floor(Number(m![1]) * unit);
}

/** A size in bytes written as a number or "64MiB", "1GiB", "500MB" (0 where 0 means off). */
export function byteSize(defaultValue: string) {
  return z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((v, ctx) => {
      const bytes = typeof v === 'number' ? (Number.isInteger(v) && v >= 0 ? v : undefined) : parseByteSize(v);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(v)} (use e.g. 4096, 64MiB, 1GiB)` });
        return z.NEVER;
      }
      return bytes;
    });
}
