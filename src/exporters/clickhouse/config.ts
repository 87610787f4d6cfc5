import { z } from 'zod';
import { duration, section } from '../../config/types.js';
import { exporterHelperSettings } from '../../exporterhelper/config.js';

type RequestCompression = { codec: 'br'; quality: number } | { codec: 'gzip' } | false;

/**
 * What @clickhouse/client is given for `compress`. With zstd (the default) the exporter sends the
 * log rows as queued, compressed once, and the client compresses nothing: other statements (the
 * templates' counts, DDL) are small, and node:zlib has zstd only from Node.js 22.15.
 */
export function requestCompression(compress: ClickHouseCompression): RequestCompression {
  if (compress === 'br') return { codec: 'br', quality: 1 };
  if (compress === 'gzip') return { codec: compress };
  return false;
}

export type ClickHouseCompression = 'zstd' | 'br' | 'gzip' | 'none';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Where the data goes: a server over HTTP(S), or chDB in this process at a directory. */
export type ClickHouseTarget = { kind: 'server'; url: string } | { kind: 'embedded'; path: string };

export function parseEndpoint(endpoint: string): ClickHouseTarget | undefined {
  if (endpoint.startsWith('embedded://')) {
    const path = endpoint.slice('embedded://'.length);
    return path ? { kind: 'embedded', path } : undefined;
  }
  try {
    const url = new URL(endpoint);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname)
      return { kind: 'server', url: endpoint };
  } catch {
    return undefined;
  }
  return undefined;
}

export const clickhouseConfigSchema = section({
  /** `embedded://PATH` (chDB in-process, the default) or `http(s)://host:8123`. */
  endpoint: z
    .string()
    .default('embedded://./data/clickhouse')
    .refine((v) => parseEndpoint(v) !== undefined, { message: 'expected http(s)://host:port or embedded://PATH' }),
  database: z.string().regex(IDENTIFIER, 'not a valid ClickHouse identifier').default('otel'),
  username: z.string().default('default'),
  password: z.string().default(''),
  logs_table_name: z.string().regex(IDENTIFIER, 'not a valid ClickHouse identifier').default('otel_logs'),
  /** Where the templates of the records are kept (and `<name>_hourly` their hourly counts). */
  templates_table_name: z.string().regex(IDENTIFIER, 'not a valid ClickHouse identifier').default('log_templates'),
  /** Rows older than this are dropped by ClickHouse (whole parts); 0 keeps them for ever. */
  ttl: duration('0'),
  create_schema: z.boolean().default(true),
  /** Table engine for create_schema; the default deduplicates retried inserts. */
  table_engine: z.string().default('MergeTree()'),
  /**
   * How insert bodies sent to a server are compressed: zstd (the rows as the queue holds them,
   * compressed once at level 1 when batched: no CPU at send time, D85), br (Brotli at quality 1),
   * gzip (zlib's default level), none. true means zstd, false none.
   */
  compress: z
    .union([z.boolean(), z.enum(['br', 'gzip', 'zstd', 'none'])], {
      error: 'expected zstd, br, gzip, none, true or false',
    })
    .default('zstd')
    .transform((codec): ClickHouseCompression => (codec === true ? 'zstd' : codec === false ? 'none' : codec)),
  /** One insert request's time limit. */
  timeout: duration('30s'),
  /** Extra ClickHouse settings sent with every insert, e.g. { async_insert: 1 }. */
  insert_settings: z
    .record(
      z.string().regex(IDENTIFIER, 'not a ClickHouse setting name'),
      z.union([z.string(), z.number(), z.boolean()]),
    )
    .default({}),
  ...exporterHelperSettings,
});

export type ClickHouseExporterConfig = z.output<typeof clickhouseConfigSchema>;
