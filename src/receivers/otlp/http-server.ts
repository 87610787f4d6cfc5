import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { parseHostPort } from '../../config/types.js';
import type { ComponentContext } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { BackPressureError, ShuttingDownError, errorMessage } from '../../pipeline/errors.js';
import {
  OtlpDecodeError,
  decodeLogsRequest,
  decodeLogsRequestJson,
  encodeLogsResponse,
  encodeLogsResponseJson,
  encodeStatus,
  encodeStatusJson,
  type DecodeResult,
} from '../../otlp/index.js';
import type { OtlpHttpConfig } from './config.js';

type Encoding = 'protobuf' | 'json';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/** google.rpc.Code values used in HTTP error bodies. */
const RPC_INVALID_ARGUMENT = 3;
const RPC_RESOURCE_EXHAUSTED = 8;
const RPC_UNAVAILABLE = 14;
const RPC_UNIMPLEMENTED = 12;

class HttpRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly rpcCode = RPC_INVALID_ARGUMENT,
  ) {
    super(message);
  }
}

function requestEncoding(contentType: string | undefined): Encoding | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

/**
 * OTLP/HTTP for logs: protobuf or JSON bodies, gzip/deflate/zstd, answers in the request's
 * encoding. Errors carry a google.rpc.Status; back-pressure answers 429 (503 while shutting down)
 * with Retry-After, which OTel SDKs retry.
 */
export class OtlpHttpServer {
  private server: Server | undefined;
  private closing = false;
  port = 0;

  constructor(
    private readonly config: OtlpHttpConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {}

  async start(): Promise<void> {
    const server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 30_000 }, (req, res) => void this.handle(req, res));
    const { host, port } = parseHostPort(this.config.endpoint)!;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`otlp http cannot listen on ${this.config.endpoint}: ${err.message}`)));
      server.listen(port, host, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.context.logger.info({ endpoint: `${host}:${this.port}` }, 'OTLP/HTTP receiver listening');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const encoding = requestEncoding(req.headers['content-type']) ?? 'json';
    try {
      if ((req.url ?? '').split('?')[0] !== this.config.logs_url_path) throw new HttpRequestError(404, `no such path: ${req.url}; logs go to ${this.config.logs_url_path}`, RPC_UNIMPLEMENTED);
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        throw new HttpRequestError(405, `method ${req.method} not allowed; use POST`, RPC_UNIMPLEMENTED);
      }
      if (!requestEncoding(req.headers['content-type'])) {
        throw new HttpRequestError(415, `unsupported content type "${req.headers['content-type'] ?? ''}": use application/x-protobuf or application/json`);
      }
      if (this.closing) {
        // Keep-alive clients would otherwise hold the drain open until the deadline.
        res.setHeader('Connection', 'close');
        res.setHeader('Retry-After', '5');
        throw new HttpRequestError(503, 'the collector is shutting down', RPC_UNAVAILABLE);
      }
      const body = await this.readBody(req);
      const decoded = this.decode(body, encoding);
      await this.accept(decoded);
      const partial = decoded.rejected > 0 ? { rejectedLogRecords: decoded.rejected, errorMessage: decoded.rejectReason } : undefined;
      this.reply(res, 200, encoding, encoding === 'json' ? encodeLogsResponseJson(partial) : encodeLogsResponse(partial));
    } catch (err) {
      this.fail(req, res, encoding, err);
    }
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const limit = this.config.max_request_body_size;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) throw new HttpRequestError(413, `request body of ${declared} bytes exceeds max_request_body_size ${limit}`, RPC_RESOURCE_EXHAUSTED);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new HttpRequestError(413, `request body exceeds max_request_body_size ${limit} bytes`, RPC_RESOURCE_EXHAUSTED);
      chunks.push(chunk as Buffer);
    }
    const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    return this.decompress(raw, String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase());
  }

  private async decompress(raw: Buffer, contentEncoding: string): Promise<Buffer> {
    const limit = this.config.max_request_body_size;
    try {
      switch (contentEncoding) {
        case '':
        case 'identity':
          return raw;
        case 'gzip':
        case 'x-gzip':
          return await gunzip(raw, { maxOutputLength: limit });
        case 'deflate':
          return await inflate(raw, { maxOutputLength: limit });
        case 'zstd': {
          const out = zstdDecompress(raw);
          if (out.length > limit) throw new RangeError('Cannot create a Buffer larger than maxOutputLength');
          return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
        }
        default:
          throw new HttpRequestError(415, `unsupported Content-Encoding "${contentEncoding}": use gzip, deflate, zstd or none`);
      }
    } catch (err) {
      if (err instanceof HttpRequestError) throw err;
      if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new HttpRequestError(413, `decompressed body exceeds max_request_body_size ${limit} bytes`, RPC_RESOURCE_EXHAUSTED);
      }
      throw new HttpRequestError(400, `cannot decompress ${contentEncoding} body: ${errorMessage(err)}`);
    }
  }

  private decode(body: Buffer, encoding: Encoding): DecodeResult {
    try {
      return encoding === 'json' ? decodeLogsRequestJson(body) : decodeLogsRequest(body);
    } catch (err) {
      if (err instanceof OtlpDecodeError) throw new HttpRequestError(400, err.message);
      throw new HttpRequestError(400, `cannot decode request: ${errorMessage(err)}`);
    }
  }

  private async accept(decoded: DecodeResult): Promise<void> {
    const { telemetry } = this.context;
    if (decoded.rejected > 0) telemetry.refused(decoded.rejected, 'http', 'invalid');
    if (decoded.records === 0) return;
    try {
      await this.next.consume(decoded.batch);
    } catch (err) {
      telemetry.refused(decoded.records, 'http', 'back_pressure');
      throw err;
    }
    telemetry.accepted(decoded.records, 'http');
  }

  private fail(req: IncomingMessage, res: ServerResponse, encoding: Encoding, err: unknown): void {
    let status = 500;
    let rpcCode = 13;
    let message = errorMessage(err);
    if (err instanceof HttpRequestError) {
      status = err.status;
      rpcCode = err.rpcCode;
      if (status === 413 || status === 415 || status === 400) this.context.telemetry.refused(0, 'http', status === 413 ? 'too_large' : 'undecodable');
    } else if (err instanceof BackPressureError) {
      status = err instanceof ShuttingDownError ? 503 : 429;
      rpcCode = status === 503 ? RPC_UNAVAILABLE : RPC_RESOURCE_EXHAUSTED;
      message = `log records not accepted, retry later: ${message}`;
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
    } else {
      this.context.logger.error({ err: message }, 'OTLP/HTTP request failed');
    }
    if (status === 413 || !req.complete) res.setHeader('Connection', 'close');
    this.reply(res, status, encoding, encoding === 'json' ? encodeStatusJson(rpcCode, message) : encodeStatus(rpcCode, message));
    if (!req.complete) req.resume();
  }

  private reply(res: ServerResponse, status: number, encoding: Encoding, body: Uint8Array | string): void {
    res.statusCode = status;
    res.setHeader('Content-Type', encoding === 'json' ? 'application/json' : 'application/x-protobuf');
    res.end(body);
  }

  /** Refuses new requests with 503 and waits for the ones in flight, up to the deadline. */
  async shutdown(deadline: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), Math.max(0, deadline - Date.now()));
    await closed;
    clearTimeout(force);
  }
}
