import type { PartialSuccess } from './encode.js';
import { ExportLogsServiceResponse, RpcRetryInfo, RpcStatus } from './proto-types.js';

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** What a server said about an export it did not fully accept. */
export interface ServerStatus {
  code: number;
  message: string;
  /** From a google.rpc.RetryInfo detail: how long the server asks the client to wait. */
  retryDelayMs: number | undefined;
}

interface DecodedPartialSuccess {
  partialSuccess?: { rejectedLogRecords?: string; errorMessage?: string };
}

/**
 * The partial_success of an ExportLogsServiceResponse; undefined when the server accepted
 * everything and said nothing. An empty body is a valid, empty response.
 */
export function decodeLogsResponse(body: Uint8Array): PartialSuccess | undefined {
  if (body.length === 0) return undefined;
  const message = ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(body), {
    longs: String,
  }) as DecodedPartialSuccess;
  const p = message.partialSuccess;
  if (!p) return undefined;
  const rejected = Number(p.rejectedLogRecords ?? 0);
  const errorMessage = p.errorMessage ?? '';
  if (rejected === 0 && errorMessage === '') return undefined;
  return { rejectedLogRecords: rejected, errorMessage };
}

interface DecodedStatus {
  code?: number;
  message?: string;
  details?: Array<{ typeUrl?: string; value?: Uint8Array }>;
}

interface DecodedRetryInfo {
  retryDelay?: { seconds?: string; nanos?: number };
}

/** A google.rpc.Status (gRPC's grpc-status-details-bin, an OTLP/HTTP error body) with its RetryInfo. */
export function decodeStatus(body: Uint8Array): ServerStatus {
  const status = RpcStatus.toObject(RpcStatus.decode(body), { defaults: false }) as DecodedStatus;
  let retryDelayMs: number | undefined;
  for (const detail of status.details ?? []) {
    if (detail.typeUrl !== RETRY_INFO_TYPE || !detail.value) continue;
    const info = RpcRetryInfo.toObject(RpcRetryInfo.decode(detail.value), { longs: String }) as DecodedRetryInfo;
    const delay = info.retryDelay;
    if (delay) retryDelayMs = Number(delay.seconds ?? 0) * 1000 + Math.floor((delay.nanos ?? 0) / 1_000_000);
  }
  return { code: status.code ?? 0, message: status.message ?? '', retryDelayMs };
}
