import { ClickHouseError } from '@clickhouse/client';
import { PermanentExportError, RetryableExportError, errorMessage } from '../../pipeline/errors.js';

/**
 * ClickHouse error codes worth retrying: the server is overloaded, out of memory, merging too
 * slowly, restarting or unreachable; credentials or grants that are wrong for now (a rotated
 * Secret reaches the pod late, a grant is being fixed); a table or database that is gone (dropped
 * by hand: create_schema recreates it before the retry). Anything else ClickHouse reports about a
 * statement (unknown column, type mismatch, parse error) will fail the same way again.
 */
const RETRYABLE_CODES = new Set([
  159, // TIMEOUT_EXCEEDED
  164, // READONLY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  252, // TOO_MANY_PARTS
  279, // ALL_CONNECTION_TRIES_FAILED
  285, // TOO_FEW_LIVE_REPLICAS
  319, // UNKNOWN_STATUS_OF_INSERT
  373, // SESSION_IS_LOCKED
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
  1000, // POCO_EXCEPTION
  // An operator fixes these without touching the data.
  192, // UNKNOWN_USER
  193, // WRONG_PASSWORD
  194, // REQUIRED_PASSWORD
  195, // IP_ADDRESS_NOT_ALLOWED
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
  60, // UNKNOWN_TABLE
  81, // UNKNOWN_DATABASE
]);

const MISSING_SCHEMA_CODES = new Set([60, 81]);

function clickhouseCode(err: unknown): number | undefined {
  if (err instanceof ClickHouseError) return Number(err.code);
  const code = (err as { clickhouseCode?: unknown } | null)?.clickhouseCode;
  return typeof code === 'number' ? code : undefined;
}

/** The table or database the statement uses does not exist (any more). */
export function isMissingSchemaError(err: unknown): boolean {
  const code = clickhouseCode(err);
  return code !== undefined && MISSING_SCHEMA_CODES.has(code);
}

/** Sorts a failed ClickHouse call into retryable or permanent, keeping the cause. */
export function classifyClickHouseError(err: unknown, what: string): RetryableExportError | PermanentExportError {
  const code = clickhouseCode(err);
  // The client keeps the code and its name apart from the text; operators (and dead-letter entries) need them.
  const name = err instanceof ClickHouseError && err.type ? `${err.type}, ` : '';
  const message = `${what}: ${errorMessage(err).trim()}${err instanceof ClickHouseError ? ` (${name}code ${err.code})` : ''}`;
  if (code === undefined || Number.isNaN(code)) return new RetryableExportError(message, { cause: err });
  return RETRYABLE_CODES.has(code) ? new RetryableExportError(message, { cause: err }) : new PermanentExportError(message, { cause: err });
}
