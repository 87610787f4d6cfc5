import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { decodeLogsRequest, encodeLogsResponse, encodeStatus } from '../../src/otlp/index.js';
import { RpcRetryInfo, RpcStatus } from '../../src/otlp/proto-types.js';
import { readRequestBody } from '../../src/receivers/http.js';

/**
 * A real OTLP server (grpc-js, node:http) whose answers are scripted, for testing what an exporter
 * does with each answer a server may give. Our own receiver never answers some of them (a
 * partial_success of its own choosing, UNAVAILABLE with RetryInfo, 502).
 */
export type ScriptedAnswer =
  | { kind: 'ok' }
  | { kind: 'partial'; rejected: number; message: string }
  | { kind: 'grpc-error'; code: grpc.status; message: string; retryDelayMs?: number }
  | { kind: 'http-error'; status: number; message: string; retryAfter?: string }
  /** OK (gRPC) or 200 (HTTP) with this body in place of an ExportLogsServiceResponse. */
  | { kind: 'unreadable'; body: Uint8Array; contentType?: string };

export interface ReceivedRequest {
  at: number;
  records: number;
  /** The `seq` attribute of each record. */
  seqs: number[];
  /** gRPC metadata or HTTP headers, lower-case names. */
  headers: Record<string, string>;
}

const EXPORT_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

function statusDetails(code: number, message: string, retryDelayMs: number): Buffer {
  const retryInfo = RpcRetryInfo.encode({ retryDelay: { seconds: Math.floor(retryDelayMs / 1000), nanos: (retryDelayMs % 1000) * 1_000_000 } }).finish();
  return Buffer.from(RpcStatus.encode({ code, message, details: [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: retryInfo }] }).finish());
}

export class ScriptedOtlpServer {
  /** Answers to give, one per request, in order; once used up every request gets `ok`. */
  readonly answers: ScriptedAnswer[] = [];
  readonly requests: ReceivedRequest[] = [];
  private grpcServer: grpc.Server | undefined;
  private httpServer: HttpServer | undefined;
  port = 0;

  private record(body: Buffer, headers: Record<string, string>): ReceivedRequest {
    const decoded = decodeLogsRequest(body);
    const seqs: number[] = [];
    for (const rl of decoded.batch.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) seqs.push(Number(r.attributes['seq']));
    const request = { at: Date.now(), records: decoded.records, seqs, headers };
    this.requests.push(request);
    return request;
  }

  async startGrpc(credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    const server = new grpc.Server();
    const definition: grpc.ServiceDefinition = {
      Export: {
        path: EXPORT_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Uint8Array) => Buffer.from(b),
        responseDeserialize: (b: Buffer) => b,
      },
    };
    server.addService(definition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = String(v);
        this.record(call.request, headers);
        const answer = this.answers.shift() ?? { kind: 'ok' };
        if (answer.kind === 'ok') callback(null, encodeLogsResponse());
        else if (answer.kind === 'partial') callback(null, encodeLogsResponse({ rejectedLogRecords: answer.rejected, errorMessage: answer.message }));
        else if (answer.kind === 'unreadable') callback(null, answer.body);
        else if (answer.kind === 'grpc-error') {
          const metadata = new grpc.Metadata();
          if (answer.retryDelayMs !== undefined) metadata.set('grpc-status-details-bin', statusDetails(answer.code, answer.message, answer.retryDelayMs));
          callback({ code: answer.code, details: answer.message, metadata });
        } else throw new Error(`scripted answer ${answer.kind} is for HTTP`);
      },
    });
    this.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, port) => (err ? reject(err) : resolve(port))));
    this.grpcServer = server;
    return this.port;
  }

  async startHttp(options: { tls?: { key: Buffer; cert: Buffer; ca: Buffer }; port?: number } = {}): Promise<number> {
    const { tls } = options;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void readRequestBody(req, 64 * 1024 * 1024, 'limit').then((body) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = String(v);
        this.record(body, headers);
        const answer = this.answers.shift() ?? { kind: 'ok' };
        res.setHeader('Content-Type', 'application/x-protobuf');
        if (answer.kind === 'ok') res.end(encodeLogsResponse());
        else if (answer.kind === 'partial') res.end(encodeLogsResponse({ rejectedLogRecords: answer.rejected, errorMessage: answer.message }));
        else if (answer.kind === 'unreadable') {
          if (answer.contentType) res.setHeader('Content-Type', answer.contentType);
          res.end(answer.body);
        } else if (answer.kind === 'http-error') {
          if (answer.retryAfter !== undefined) res.setHeader('Retry-After', answer.retryAfter);
          res.statusCode = answer.status;
          res.end(encodeStatus(answer.status === 429 ? grpc.status.RESOURCE_EXHAUSTED : grpc.status.UNAVAILABLE, answer.message));
        } else throw new Error(`scripted answer ${answer.kind} is for gRPC`);
      });
    };
    const server = tls ? createHttpsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.httpServer = server;
    return this.port;
  }

  async close(): Promise<void> {
    this.grpcServer?.forceShutdown();
    const http = this.httpServer;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  }
}
