import * as grpc from '@grpc/grpc-js';
import { PermanentExportError, RetryableExportError, errorMessage } from '../../pipeline/errors.js';
import { decodeStatus } from '../../otlp/index.js';
import { parseGrpcEndpoint, type OtlpExporterConfig } from './config.js';
import type { LogsTransport, TlsMaterial } from './transport.js';

const EXPORT_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

/** grpc-js's numbers for compression algorithms (grpc.default_compression_algorithm). */
const COMPRESSION = { none: 0, deflate: 1, gzip: 2 } as const;

/**
 * The codes the OTLP specification makes retryable. RESOURCE_EXHAUSTED is retryable only when the
 * server says when to retry (a RetryInfo detail): without it the request itself is too large or
 * over a quota that waiting does not fix.
 */
const RETRYABLE_CODES = new Set([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

export function classifyGrpcError(err: grpc.ServiceError, target: string): RetryableExportError | PermanentExportError {
  let retryAfterMs: number | undefined;
  const details = err.metadata?.get('grpc-status-details-bin')[0];
  if (details instanceof Buffer) {
    try {
      retryAfterMs = decodeStatus(details).retryDelayMs;
    } catch {
      // A malformed details trailer leaves the status code to decide.
    }
  }
  const message =
    `OTLP/gRPC export to ${target} ` +
    `failed: ${grpc.status[err.code] ?? err.code}: ${err.details || errorMessage(err)}`;
  if (RETRYABLE_CODES.has(err.code) || (err.code === grpc.status.RESOURCE_EXHAUSTED && retryAfterMs !== undefined)) {
    return new RetryableExportError(message, { cause: err, retryAfterMs });
  }
  return new PermanentExportError(message, { cause: err });
}

/** ExportLogsServiceRequest bytes go out as they were encoded when the batch was queued. */
function serialize(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function identity(body: Buffer): Buffer {
  return body;
}

const EMPTY = new Uint8Array(0);

/** OTLP/gRPC unary Export calls over one grpc-js channel. */
export class GrpcLogsTransport implements LogsTransport {
  private readonly client: grpc.Client;
  private readonly metadata = new grpc.Metadata();
  readonly target: string;

  constructor(
    private readonly config: OtlpExporterConfig,
    tls: TlsMaterial,
  ) {
    const endpoint = parseGrpcEndpoint(config.endpoint)!;
    this.target = endpoint.target;
    const secure = endpoint.secure ?? !config.tls.insecure;
    const credentials = secure
      ? grpc.credentials.createSsl(
          tls.ca ?? null,
          tls.key ?? null,
          tls.cert ?? null,
          config.tls.insecure_skip_verify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {},
        )
      : grpc.credentials.createInsecure();
    const options: grpc.ChannelOptions = {
      'grpc.default_compression_algorithm': COMPRESSION[config.compression],
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [config.balancer_name]: {} }] }),
      // A gateway that restarts should be reconnected to within seconds, not grpc's 2 minutes.
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 5000,
      // Gateway pods come and go behind a headless Service: look the name up again soon.
      'grpc.dns_min_time_between_resolutions_ms': 5000,
      'grpc.primary_user_agent': 'otelhouse',
    };
    if (config.tls.server_name_override) options['grpc.ssl_target_name_override'] = config.tls.server_name_override;
    for (const [name, value] of Object.entries(config.headers)) this.metadata.set(name.toLowerCase(), value);
    this.client = new grpc.Client(this.target, credentials, options);
  }

  send(body: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      // Nothing here may throw: an exception in grpc-js's callback would be uncaught and end the process.
      this.client.makeUnaryRequest(
        EXPORT_PATH,
        serialize,
        identity,
        body,
        this.metadata,
        { deadline: Date.now() + this.config.timeout },
        (err, response) => {
          if (err) reject(classifyGrpcError(err, this.target));
          else resolve(response ?? EMPTY);
        },
      );
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
