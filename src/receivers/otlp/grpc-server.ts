import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { parseHostPort } from '../../config/types.js';
import type { ComponentContext } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { BackPressureError, errorMessage } from '../../pipeline/errors.js';
import { OtlpDecodeError, decodeLogsRequest, encodeLogsResponse } from '../../otlp/index.js';
import type { OtlpGrpcConfig } from './config.js';

const EXPORT_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

/**
 * The method is registered with identity (de)serialisers: the handler decodes the bytes itself so
 * an undecodable request gets INVALID_ARGUMENT with the reason, not a generic internal error.
 */
const logsServiceDefinition: grpc.ServiceDefinition = {
  Export: {
    path: EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    responseDeserialize: (b: Buffer) => b,
  },
};

/**
 * google.rpc.Status with a google.rpc.RetryInfo detail, sent as grpc-status-details-bin: the OTLP
 * spec makes RESOURCE_EXHAUSTED retryable only when the server says when to retry.
 */
function retryInfoStatusDetails(code: number, message: string, retryAfterMs: number): Buffer {
  const seconds = Math.floor(retryAfterMs / 1000);
  const nanos = (retryAfterMs % 1000) * 1_000_000;
  const duration = protobuf.Writer.create().uint32(8).int64(seconds).uint32(16).int32(nanos).finish();
  const retryInfo = protobuf.Writer.create().uint32(10).bytes(duration).finish();
  const any = protobuf.Writer.create().uint32(10).string('type.googleapis.com/google.rpc.RetryInfo').uint32(18).bytes(retryInfo).finish();
  const status = protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).uint32(26).bytes(any).finish();
  return Buffer.from(status);
}

export class OtlpGrpcServer {
  private server: grpc.Server | undefined;
  port = 0;

  constructor(
    private readonly config: OtlpGrpcConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {}

  async start(): Promise<void> {
    const maxBytes = this.config.max_recv_msg_size_mib * 1024 * 1024;
    const server = new grpc.Server({ 'grpc.max_receive_message_length': maxBytes, 'grpc.max_send_message_length': 4 * 1024 * 1024 });
    server.addService(logsServiceDefinition, { Export: (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => void this.export(call.request, callback) });
    const { host, port } = parseHostPort(this.config.endpoint)!;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(new Error(`otlp grpc cannot listen on ${address}: ${err.message}`)) : resolve(bound))),
    );
    this.server = server;
    this.context.logger.info({ endpoint: `${host}:${this.port}` }, 'OTLP/gRPC receiver listening');
  }

  private async export(request: Buffer, callback: grpc.sendUnaryData<Uint8Array>): Promise<void> {
    const { telemetry } = this.context;
    let decoded;
    try {
      decoded = decodeLogsRequest(request);
    } catch (err) {
      telemetry.refused(0, 'grpc', 'undecodable');
      const message = err instanceof OtlpDecodeError ? err.message : `cannot decode request: ${errorMessage(err)}`;
      callback({ code: grpc.status.INVALID_ARGUMENT, details: message });
      return;
    }
    if (decoded.rejected > 0) telemetry.refused(decoded.rejected, 'grpc', 'invalid');
    if (decoded.records > 0) {
      try {
        await this.next.consume(decoded.batch);
      } catch (err) {
        telemetry.refused(decoded.records, 'grpc', 'back_pressure');
        const retryAfterMs = err instanceof BackPressureError ? err.retryAfterMs : 1000;
        const metadata = new grpc.Metadata();
        const message = `log records not accepted, retry later: ${errorMessage(err)}`;
        metadata.set('grpc-status-details-bin', retryInfoStatusDetails(grpc.status.RESOURCE_EXHAUSTED, message, retryAfterMs));
        callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: message, metadata });
        return;
      }
      telemetry.accepted(decoded.records, 'grpc');
    }
    callback(null, encodeLogsResponse(decoded.rejected > 0 ? { rejectedLogRecords: decoded.rejected, errorMessage: decoded.rejectReason } : undefined));
  }

  /** Lets in-flight calls finish (they are acknowledged only once the pipeline took them). */
  async shutdown(deadline: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, Math.max(0, deadline - Date.now()));
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
