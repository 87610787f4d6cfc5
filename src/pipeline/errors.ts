/**
 * The next stage cannot take more data now (a full queue, a memory limit). Nothing of the refused
 * batch was accepted, so the client may resend it: receivers translate this into the protocol's
 * back-pressure signal (gRPC RESOURCE_EXHAUSTED / UNAVAILABLE, HTTP 429 / 503 with Retry-After).
 */
export class BackPressureError extends Error {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs = 1000) {
    super(message);
    this.name = 'BackPressureError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** The pipeline is shutting down and accepts nothing new. */
export class ShuttingDownError extends BackPressureError {
  constructor(component: string) {
    super(`${component} is shutting down`, 5000);
    this.name = 'ShuttingDownError';
  }
}

/** An export attempt failed in a way that may succeed later (network, 5xx, overload). */
export class RetryableExportError extends Error {
  readonly retryAfterMs: number | undefined;
  /** The failure may come from this batch (its size), not from the sink's state: others may pass meanwhile. */
  readonly mayBeThisBatch: boolean;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number; mayBeThisBatch?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RetryableExportError';
    this.retryAfterMs = options?.retryAfterMs;
    this.mayBeThisBatch = options?.mayBeThisBatch ?? false;
  }
}

/** An export attempt failed in a way retrying cannot fix (schema or type errors, bad credentials). */
export class PermanentExportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentExportError';
  }
}

/**
 * A processor refuses a batch because of what is in it (filter with `error_mode: propagate`): the
 * same data would be refused again, so it must not be retried. Receivers answer it as a client
 * error (HTTP 400 / gRPC INVALID_ARGUMENT); the batch processor does not hold it for a retry.
 */
export class RejectedBatchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RejectedBatchError';
  }
}

/** Errors that sending the same data again cannot fix. */
export function isPermanentError(err: unknown): boolean {
  return err instanceof PermanentExportError || err instanceof RejectedBatchError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
