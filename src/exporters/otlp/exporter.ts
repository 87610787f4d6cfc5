import type { ComponentContext } from '../../pipeline/component.js';
import { bytesCodec, type ExportOutcome, type ExportSender } from '../../exporterhelper/queued-exporter.js';
import { RetryableExportError, errorMessage } from '../../pipeline/errors.js';
import type { LogBatch } from '../../pipeline/model.js';
import type { DeadLetterFile } from '../../exporterhelper/dead-letter.js';
import { decodeLogsResponse, encodeLogsRequest } from '../../otlp/index.js';
import type { OtlpExporterConfig } from './config.js';
import { GrpcLogsTransport } from './grpc-transport.js';
import { HttpLogsTransport } from './http-transport.js';
import { readTlsMaterial, type LogsTransport } from './transport.js';

/**
 * Forwards batches to another OTLP server (an otelhouse gateway, an OTel Collector, a vendor) over
 * gRPC or HTTP/protobuf. A batch is encoded once, when it enters the sending queue (which the
 * factory wraps around this sender); the queue's workers send it and retry what the server says
 * is retryable, waiting at least as long as the server asked (RetryInfo, Retry-After). Records the
 * server rejects in a partial_success are logged and counted, never resent: the server has said
 * they will never be accepted.
 */
export class OtlpLogsSender implements ExportSender<Uint8Array> {
  private transport: LogsTransport | undefined;
  private connected = false;
  /** The payload already is bytes: a disk queue (sending_queue.storage) stores it as it is. */
  readonly codec = bytesCodec;

  constructor(
    private readonly config: OtlpExporterConfig,
    private readonly context: ComponentContext,
  ) {}

  prepare(batch: LogBatch): Uint8Array {
    return encodeLogsRequest(batch);
  }

  /** A given-up batch is an ExportLogsServiceRequest: replayable with any OTLP client. */
  deadLetterFiles(payload: Uint8Array): DeadLetterFile[] {
    return [{ suffix: '.pb', data: payload }];
  }

  async start(): Promise<void> {
    const tls = readTlsMaterial(this.config.tls, this.context.id);
    this.transport =
      this.config.protocol === 'grpc'
        ? new GrpcLogsTransport(this.config, tls)
        : new HttpLogsTransport(this.config, tls);
    this.context.logger.info(
      { endpoint: this.transport.target, protocol: this.config.protocol },
      'OTLP exporter ready',
    );
  }

  async stop(): Promise<void> {
    await this.transport?.close();
  }

  health(): Record<string, unknown> {
    return { connected: this.connected, endpoint: this.transport?.target ?? this.config.endpoint };
  }

  async attempt(payload: Uint8Array, records: number): Promise<ExportOutcome | undefined> {
    let response: Uint8Array;
    try {
      response = await this.transport!.send(payload);
    } catch (err) {
      this.connected = !(err instanceof RetryableExportError);
      throw err;
    }
    this.connected = true;
    let partial;
    try {
      partial = decodeLogsResponse(response);
    } catch (err) {
      // The server said OK: resending would store the records twice, dead-lettering would call them lost.
      this.context.telemetry.count('unreadable_responses');
      this.context.logger.warn(
        { endpoint: this.transport!.target, records, bytes: response.length, err: errorMessage(err) },
        'the OTLP server accepted the export but its answer is not ' +
          'an ExportLogsServiceResponse; the records count as accepted',
      );
      return undefined;
    }
    if (!partial) return undefined;
    // A count outside 0..records is the server's mistake: it cannot have rejected fewer than none or more than it got.
    const rejected = Math.min(records, Math.max(0, partial.rejectedLogRecords));
    if (rejected > 0) {
      this.context.logger.warn(
        { rejected, records, reason: partial.errorMessage },
        'the OTLP server rejected some log records; they are not retried',
      );
    } else {
      this.context.logger.warn(
        { records, reported_rejected: partial.rejectedLogRecords, message: partial.errorMessage },
        'the OTLP server accepted the log records with a warning',
      );
    }
    return { rejected };
  }
}
