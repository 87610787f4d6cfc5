import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ComponentContext } from '../pipeline/component.js';
import { BackPressureError, ShuttingDownError, errorMessage, isPermanentError } from '../pipeline/errors.js';
import type { RequestRefusalReason } from '../telemetry/metrics.js';
import { RateLimitedLog } from '../telemetry/rate-limited-log.js';

/** How every receiver answers a request it refuses, whether the receiver or the pipeline refused it. */
export interface Refusal {
  httpStatus: number;
  /** Also the google.rpc.Code of OTLP/HTTP error bodies. */
  grpcCode: GrpcStatus;
  /** Present when the client should retry: sent as Retry-After or a RetryInfo detail. */
  retryAfterMs: number | undefined;
  message: string;
  /** An error no receiver expects: worth an error log line. */
  unexpected: boolean;
  /** The reason label the refused request is counted under. */
  reason: RequestRefusalReason;
}

/**
 * The OTel Collector's mapping, with back-pressure made explicit: a full queue or a memory limit
 * (BackPressureError) → 429 / RESOURCE_EXHAUSTED with the time to wait, shutting down → 503 /
 * UNAVAILABLE, a permanent error (an exporter's, or a processor refusing the data) → 400 /
 * INVALID_ARGUMENT (retrying cannot help), anything else → 503 / UNAVAILABLE, so clients keep
 * the data and retry.
 */
export function refusalFor(err: unknown): Refusal {
  const reason = errorMessage(err);
  if (err instanceof ShuttingDownError) {
    return {
      httpStatus: 503,
      grpcCode: GrpcStatus.UNAVAILABLE,
      retryAfterMs: err.retryAfterMs,
      message: `log records not accepted, retry later: ${reason}`,
      unexpected: false,
      reason: 'shutting_down',
    };
  }
  if (err instanceof BackPressureError) {
    return {
      httpStatus: 429,
      grpcCode: GrpcStatus.RESOURCE_EXHAUSTED,
      retryAfterMs: err.retryAfterMs,
      message: `log records not accepted, retry later: ${reason}`,
      unexpected: false,
      reason: 'back_pressure',
    };
  }
  if (isPermanentError(err)) {
    return {
      httpStatus: 400,
      grpcCode: GrpcStatus.INVALID_ARGUMENT,
      retryAfterMs: undefined,
      message: `log records rejected: ${reason}`,
      unexpected: false,
      reason: 'rejected',
    };
  }
  return {
    httpStatus: 503,
    grpcCode: GrpcStatus.UNAVAILABLE,
    retryAfterMs: 1000,
    message: `log records not accepted, retry later: ${reason}`,
    unexpected: true,
    reason: 'unavailable',
  };
}

/**
 * A request refused by the receiver itself, before its records reach the pipeline, with the HTTP
 * status it is answered.
 */
export function refusalForHttpStatus(httpStatus: number, message: string): Refusal {
  return {
    httpStatus,
    grpcCode: grpcCodeForHttpStatus(httpStatus),
    retryAfterMs: undefined,
    message,
    unexpected: false,
    reason: refusalReasonForHttpStatus(httpStatus),
  };
}

/** Retry-After in whole seconds, at least 1. */
export function retryAfterHeader(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

function refusalReasonForHttpStatus(status: number): RequestRefusalReason {
  switch (status) {
    case 400:
      return 'undecodable';
    case 401:
      return 'unauthenticated';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 413:
      return 'too_large';
    case 415:
      return 'unsupported_media_type';
    default:
      return 'invalid';
  }
}

/** The google.rpc.Code that goes with an HTTP status a receiver answers with (OTLP/HTTP's Status bodies). */
function grpcCodeForHttpStatus(status: number): GrpcStatus {
  if (status === 401) return GrpcStatus.UNAUTHENTICATED;
  if (status === 413) return GrpcStatus.RESOURCE_EXHAUSTED;
  if (status === 404 || status === 405) return GrpcStatus.UNIMPLEMENTED;
  if (status === 503) return GrpcStatus.UNAVAILABLE;
  return GrpcStatus.INVALID_ARGUMENT;
}

/**
 * Where a receiver's refused requests and connections become visible: each is counted under its
 * reason (otelhouse_receiver_refused_requests_total, /stats) and logged, at most once per reason
 * per interval so that a flood of bad requests does not flood the log.
 */
export class RefusedRequests {
  private readonly log: RateLimitedLog;

  constructor(
    private readonly context: ComponentContext,
    private readonly transport: string,
  ) {
    this.log = new RateLimitedLog(context.logger);
  }

  note(reason: RequestRefusalReason, message: string, fields: Record<string, unknown> = {}): void {
    this.context.telemetry.refusedRequest(this.transport, reason);
    this.log.warn(reason, { reason, transport: this.transport, ...fields, err: message }, 'request refused');
  }
}
