import { z } from 'zod';
import { duration, parseByteSize, positiveInt, section } from '../../config/types.js';
import { checkHttpTimeouts, HTTP_TIMEOUTS_MESSAGE, httpServerSettings } from '../../receivers/http.js';

const byteSize = (defaultValue: string) =>
  z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((v, ctx) => {
      const bytes = typeof v === 'number' ? v : parseByteSize(v);
      if (bytes === undefined || !Number.isInteger(bytes) || bytes <= 0) {
        ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(v)} (use e.g. 100MiB)` });
        return z.NEVER;
      }
      return bytes;
    });

// wait_for_room is about a pipeline's room: a read-only endpoint has none.
const { wait_for_room: _waitForRoom, ...serverSettings } = httpServerSettings('127.0.0.1:8080');

/** The console extension: query API, web console and read-only SQL on one endpoint. */
export const consoleConfigSchema = section({
  ...serverSettings,
  /** The exporter whose store is read (its id, e.g. clickhouse); default: the only one that stores logs. */
  store: z.string().min(1, 'name an exporter, e.g. clickhouse').optional(),
  /** Time limit of one API query (ClickHouse max_execution_time). */
  query_timeout: duration('10s').refine((ms) => ms >= 1000, { message: 'must be at least 1s' }),
  /**
   * Threads one API query may use (ClickHouse max_threads); 0: one a core. Two by default: a word
   * search's page is read from ~60 granules, which two threads read in half the time (docs/decisions
   * D54), while a page read newest first gains nothing from more; more than two would take the
   * cores of the pipeline the console shares the machine with.
   */
  query_threads: z
    .number({ error: 'expected a number' })
    .int('expected a whole number')
    .min(0, 'must be 0 or more')
    .default(2),
  /**
   * Serve the read-only subset of ClickHouse's HTTP interface at / (for Grafana, clickhouse-client,
   * @clickhouse/client).
   */
  sql: section({
    enabled: z.boolean().default(true),
    /** Upper bound of a query's max_execution_time; a client may ask for less. */
    max_execution_time: duration('30s').refine((ms) => ms >= 1000, { message: 'must be at least 1s' }),
    /** Upper bound of max_result_rows; a client may ask for less. */
    max_result_rows: positiveInt(1_000_000),
    /** Upper bound of max_result_bytes; a client may ask for less. */
    max_result_bytes: byteSize('256MiB'),
  }),
  /**
   * Records a tail subscriber may fall behind by; past it, new records are dropped for it (and counted in a comment).
   */
  tail_buffer: positiveInt(10_000),
}).refine(checkHttpTimeouts, HTTP_TIMEOUTS_MESSAGE);

export type ConsoleConfig = z.output<typeof consoleConfigSchema>;
