import { createServer, type Server as NetServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { ServerAuthenticator } from '../../pipeline/auth.js';
import type { ComponentContext } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { errorMessage } from '../../pipeline/errors.js';
import { OtlpDecodeError, decodeLogsRequest, encodeLogsResponse } from '../../otlp/index.js';
import { grpcMetadataHeaders, resolveAuthenticator } from '../auth.js';
import { listen } from '../http.js';
import { passToPipeline } from '../receive.js';
import { RefusedRequests, refusalFor } from '../refusal.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, ServerTlsCredentials } from '../tls.js';
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
  const any = protobuf.Writer.create()
    .uint32(10)
    .string('type.googleapis.com/google.rpc.RetryInfo')
    .uint32(18)
    .bytes(retryInfo)
    .finish();
  const status = protobuf.Writer.create()
    .uint32(8)
    .int32(code)
    .uint32(18)
    .string(message)
    .uint32(26)
    .bytes(any)
    .finish();
  return Buffer.from(status);
}

/**
 * OTLP/gRPC for logs. grpc-js has no connection limit, so connections are accepted by our own TCP
 * listener (max_connections) and handed to grpc-js, which runs TLS and HTTP/2 on them.
 */
export class OtlpGrpcServer {
  private server: grpc.Server | undefined;
  private listener: NetServer | undefined;
  private tls: ServerTlsCredentials | undefined;
  /** Each accepted connection, with its byte count when last seen to change, and when. */
  private readonly sockets = new Map<Socket, { bytesRead: number; since: number }>();
  private sweep: NodeJS.Timeout | undefined;
  private readonly authenticator: ServerAuthenticator | undefined;
  private readonly refusals: RefusedRequests;
  port = 0;

  constructor(
    private readonly config: OtlpGrpcConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.authenticator = resolveAuthenticator(config.auth, context);
    this.refusals = new RefusedRequests(context, 'grpc');
  }

  private serverOptions(): grpc.ServerOptions {
    const c = this.config;
    const ka = c.keepalive.server_parameters;
    const options: grpc.ServerOptions = {
      'grpc.max_receive_message_length': c.max_recv_msg_size_mib * 1024 * 1024,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
      'grpc.max_concurrent_streams': c.max_concurrent_streams,
      interceptors: [this.callInterceptor()],
    };
    if (ka.max_connection_idle > 0) options['grpc.max_connection_idle_ms'] = ka.max_connection_idle;
    if (ka.max_connection_age > 0) options['grpc.max_connection_age_ms'] = ka.max_connection_age;
    if (ka.max_connection_age_grace > 0) options['grpc.max_connection_age_grace_ms'] = ka.max_connection_age_grace;
    if (ka.time > 0) options['grpc.keepalive_time_ms'] = ka.time;
    if (ka.timeout > 0) options['grpc.keepalive_timeout_ms'] = ka.timeout;
    return options;
  }

  /**
   * Sees every call before grpc-js hands its message to the service. With an authenticator it
   * checks the call's metadata first: a refused call stores nothing. It also makes visible the
   * calls grpc-js ends on its own before the message reaches the service (a message over
   * max_recv_msg_size_mib, a compression it cannot undo): grpc-js answers those without telling
   * the service or the interceptors why, so they are counted as ended before their message.
   */
  private callInterceptor(): grpc.ServerInterceptor {
    const authenticator = this.authenticator;
    return (_method, call) => {
      let answered = false;
      let messageReceived = false;
      return new grpc.ServerInterceptingCall(call, {
        start: (next) =>
          next({
            onReceiveMetadata: (metadata, passOn) => {
              const refusal = authenticator?.authenticate(grpcMetadataHeaders(metadata));
              if (refusal === undefined) {
                passOn(metadata);
                return;
              }
              answered = true;
              this.refusals.note('unauthenticated', `unauthenticated: ${refusal}`);
              call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: `unauthenticated: ${refusal}` });
            },
            onReceiveMessage: (message, passOn) => {
              messageReceived = true;
              passOn(message);
            },
            // grpc-js calls this once the call is over, however it ended.
            onCancel: () => {
              if (answered || messageReceived) return;
              this.refusals.note(
                'ended_before_message',
                `the call ended before its message reached the receiver: larger ` +
                  `than max_recv_msg_size_mib ${this.config.max_recv_msg_size_mib}, ` +
                  `compressed in a way grpc-js cannot undo, or cancelled by the client`,
              );
            },
          }),
      });
    };
  }

  async start(): Promise<void> {
    const server = new grpc.Server(this.serverOptions());
    server.addService(logsServiceDefinition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) =>
        void this.export(call.request, callback, call.getDeadline()),
    });
    let credentials = grpc.ServerCredentials.createInsecure();
    if (this.config.tls) {
      this.tls = new ServerTlsCredentials(this.config.tls, this.context.logger);
      await this.tls.start();
      credentials = this.tls.grpcCredentials(DEFAULT_HANDSHAKE_TIMEOUT_MS);
    }
    const injector = server.createConnectionInjector(credentials);
    const listener = createServer((socket) => {
      this.sockets.set(socket, { bytesRead: 0, since: Date.now() });
      socket.once('close', () => this.sockets.delete(socket));
      injector.injectConnection(socket);
    });
    listener.maxConnections = this.config.max_connections;
    listener.on('drop', () =>
      this.refusals.note(
        'too_many_connections',
        `more than max_connections ${this.config.max_connections} connections at once`,
      ),
    );
    try {
      this.port = await listen(listener, this.config.endpoint, 'otlp grpc');
    } catch (err) {
      this.tls?.stop();
      throw err;
    }
    this.server = server;
    this.listener = listener;
    this.sweep = setInterval(() => this.cutSilentConnections(), Math.max(25, this.config.connection_timeout / 2));
    this.sweep.unref();
    if (this.authenticator && !this.tls)
      this.context.logger.warn(
        { endpoint: this.config.endpoint },
        'auth without tls: tokens cross the network in clear text',
      );
    this.context.logger.info(
      { endpoint: this.config.endpoint, port: this.port, tls: Boolean(this.config.tls) },
      'OTLP/gRPC receiver listening',
    );
  }

  /**
   * grpc-js bounds neither a connection that never sends a byte (its idle timer does not close a
   * session whose client preface never came) nor one whose client ignores the close (a client that
   * does not read never sees the FIN, and the half-closed socket keeps its max_connections slot;
   * under TLS the close is not even visible on the socket we hold). Both look like a connection
   * that sends nothing, which is what this cuts: silent since it opened for connection_timeout, or
   * silent for max_connection_idle + connection_timeout (grpc-js has closed it by then).
   */
  private cutSilentConnections(): void {
    const now = Date.now();
    const timeout = this.config.connection_timeout;
    const idle = this.config.keepalive.server_parameters.max_connection_idle;
    for (const [socket, seen] of this.sockets) {
      // The handle's count: it includes what a TLS layer on top of this socket has read.
      const bytesRead = socket.bytesRead;
      if (bytesRead !== seen.bytesRead) {
        seen.bytesRead = bytesRead;
        seen.since = now;
        continue;
      }
      const limit = bytesRead === 0 ? timeout : idle > 0 ? idle + timeout : Infinity;
      if (now - seen.since < limit) continue;
      this.context.telemetry.count(bytesRead === 0 ? 'silent_connections_cut' : 'idle_connections_cut');
      socket.destroy();
    }
  }

  private async export(
    request: Buffer,
    callback: grpc.sendUnaryData<Uint8Array>,
    clientDeadline: grpc.Deadline,
  ): Promise<void> {
    let decoded;
    try {
      decoded = decodeLogsRequest(request);
    } catch (err) {
      const message = err instanceof OtlpDecodeError ? err.message : `cannot decode request: ${errorMessage(err)}`;
      this.refusals.note('undecodable', message, { code: grpc.status.INVALID_ARGUMENT });
      callback({ code: grpc.status.INVALID_ARGUMENT, details: message });
      return;
    }
    try {
      await passToPipeline(this.context.telemetry, 'grpc', this.next, this.roomWait(clientDeadline), decoded);
    } catch (err) {
      const refusal = refusalFor(err);
      if (refusal.unexpected) this.context.logger.error({ err: errorMessage(err) }, 'OTLP/gRPC request failed');
      this.refusals.note(refusal.reason, refusal.message, { code: refusal.grpcCode });
      const metadata = new grpc.Metadata();
      if (refusal.retryAfterMs !== undefined)
        metadata.set(
          'grpc-status-details-bin',
          retryInfoStatusDetails(refusal.grpcCode, refusal.message, refusal.retryAfterMs),
        );
      callback({ code: refusal.grpcCode, details: refusal.message, metadata });
      return;
    }
    callback(
      null,
      encodeLogsResponse(
        decoded.rejected > 0 ? { rejectedLogRecords: decoded.rejected, errorMessage: decoded.rejectReason } : undefined,
      ),
    );
  }

  /**
   * wait_for_room, but never past the client's own deadline less a second: an answer the client
   * no longer waits for would be lost, and it would send the data again.
   */
  private roomWait(clientDeadline: grpc.Deadline): number {
    const deadline = clientDeadline instanceof Date ? clientDeadline.getTime() : clientDeadline;
    return Math.max(0, Math.min(this.config.wait_for_room, deadline - Date.now() - 1000));
  }

  /** Lets in-flight calls finish (they are acknowledged only once the pipeline took them). */
  async shutdown(deadline: number): Promise<void> {
    this.tls?.stop();
    clearInterval(this.sweep);
    const server = this.server;
    if (!server) return;
    const listening = new Promise<void>((resolve) => this.listener!.close(() => resolve()));
    await new Promise<void>((resolve) => {
      const force = setTimeout(
        () => {
          server.forceShutdown();
          resolve();
        },
        Math.max(0, deadline - Date.now()),
      );
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    // Connections that never became HTTP/2 sessions (a handshake in progress) are not grpc-js's to close.
    for (const socket of this.sockets.keys()) socket.destroy();
    await listening;
  }
}
