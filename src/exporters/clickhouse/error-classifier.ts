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
  243, // NOT_ENOUGH_SPACE: the server's disk is full for now
]);

/**
 * Errors about the statement or the table, not about the rows: every subset of the batch would
 * fail the same way, so cutting the batch to find the bad rows only multiplies the failures.
 * Any other permanent error may come from some rows' values (a CONSTRAINT, a value a type
 * refuses, a string too large), and the batch is cut to keep its other rows.
 */
const STATEMENT_CODES = new Set([
  1, // UNSUPPORTED_METHOD
  8, // THERE_IS_NO_COLUMN
  10, // NOT_FOUND_COLUMN_IN_BLOCK
  16, // NO_SUCH_COLUMN_IN_TABLE
  20, // NUMBER_OF_COLUMNS_DOESNT_MATCH
  42, // NUMBER_OF_ARGUMENTS_DOESNT_MATCH
  43, // ILLEGAL_TYPE_OF_ARGUMENT
  44, // ILLEGAL_COLUMN
  46, // UNKNOWN_FUNCTION
  47, // UNKNOWN_IDENTIFIER
  48, // NOT_IMPLEMENTED
  50, // UNKNOWN_TYPE
  80, // INCORRECT_QUERY
  115, // UNKNOWN_SETTING
  352, // AMBIGUOUS_COLUMN_NAME
  386, // NO_COMMON_TYPE
]);

/** Retryable errors that a smaller insert may not meet: it asks for less memory and time. */
const SIZE_CODES = new Set([159, 209, 241]);

const MISSING_SCHEMA_CODES = new Set([60, 81]);

/**
 * The ClickHouse error code of a failed call. Matched by shape, not by class: @clickhouse/client
 * bundles its own client-common while chdb/connection throws the ClickHouseError of the
 * separately installed one, so `instanceof` fails for every embedded error. Both carry the code
 * as a numeric string; chDB's own errors carry `clickhouseCode`, also on a cause.
 */
function clickhouseCode(err: unknown): number | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, clickhouseCode: native } = e as { code?: unknown; clickhouseCode?: unknown };
    if (typeof native === 'number') return native;
    if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  }
  return undefined;
}

/** The ClickHouse error's name (e.g. VIOLATED_CONSTRAINT), where the client parsed it. */
function clickhouseType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type !== '' ? type : undefined;
}

/** The table or database the statement uses does not exist (any more). */
export function isMissingSchemaError(err: unknown): boolean {
  const code = clickhouseCode(err);
  return code !== undefined && MISSING_SCHEMA_CODES.has(code);
}

/** Sorts a failed ClickHouse call into retryable or permanent, keeping the cause. */
export function classifyClickHouseError(err: unknown, what: string): RetryableExportError | PermanentExportError {
  const code = clickhouseCode(err);
  // The code and its name are kept apart from the text; operators (and dead-letter entries) need them.
  const type = clickhouseType(err);
  const suffix = code === undefined ? '' : ` (${type ? `${type}, ` : ''}code ${code})`;
  const message = `${what}: ${errorMessage(err).trim()}${suffix}`;
  if (code === undefined) return new RetryableExportError(message, { cause: err });
  return RETRYABLE_CODES.has(code)
    ? new RetryableExportError(message, { cause: err, mayBeThisBatch: SIZE_CODES.has(code) })
    : new PermanentExportError(message, { cause: err });
}

/**
 * Whether a smaller insert of the same rows may succeed where this one failed: a permanent error
 * that can come from some rows' values, or (`retryable` true) a retryable one about the insert's size.
 */
export function isRowDependent(err: unknown, retryable: boolean): boolean {
  const code = clickhouseCode(err);
  if (code === undefined) return false;
  if (retryable) return SIZE_CODES.has(code);
  return !RETRYABLE_CODES.has(code) && !STATEMENT_CODES.has(code);
}
