import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ComponentContext } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { ShuttingDownError, errorMessage } from '../../pipeline/errors.js';
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
import { HttpReceiverServer, HttpRequestError, readRequestBody } from '../http.js';
import { passToPipeline } from '../receive.js';
import type { OtlpHttpConfig } from './config.js';

type Encoding = 'protobuf' | 'json';

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
  private readonly server: HttpReceiverServer;
  private closing = false;
  port = 0;

  constructor(
    private readonly config: OtlpHttpConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.server = new HttpReceiverServer(config, context, 'otlp http', (req, res) => void this.handle(req, res));
  }

  async start(): Promise<void> {
    this.port = await this.server.start();
    this.context.logger.info(
      { endpoint: this.config.endpoint, port: this.port, tls: this.server.tlsEnabled },
      'OTLP/HTTP receiver listening',
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const encoding = requestEncoding(req.headers['content-type']) ?? 'json';
    try {
      if ((req.url ?? '').split('?')[0] !== this.config.logs_url_path)
        throw new HttpRequestError(404, `no such path: ${req.url}; logs go to ${this.config.logs_url_path}`);
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        throw new HttpRequestError(405, `method ${req.method} not allowed; use POST`);
      }
      const unauthenticated = this.server.authenticate(req);
      if (unauthenticated !== undefined) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpRequestError(401, `unauthenticated: ${unauthenticated}`);
      }
      if (!requestEncoding(req.headers['content-type'])) {
        throw new HttpRequestError(
          415,
          `unsupported content type "${req.headers['content-type'] ?? ''}": ` +
            `use application/x-protobuf or application/json`,
        );
      }
      if (this.closing) {
        // Keep-alive clients would otherwise hold the drain open until the deadline.
        res.setHeader('Connection', 'close');
        throw new ShuttingDownError(this.context.id);
      }
      const body = await readRequestBody(req, this.config.max_request_body_size, 'max_request_body_size');
      const decoded = this.decode(body, encoding);
      await passToPipeline(this.context.telemetry, 'http', this.next, this.config.wait_for_room, decoded);
      const partial =
        decoded.rejected > 0 ? { rejectedLogRecords: decoded.rejected, errorMessage: decoded.rejectReason } : undefined;
      this.reply(
        res,
        200,
        encoding,
        encoding === 'json' ? encodeLogsResponseJson(partial) : encodeLogsResponse(partial),
      );
    } catch (err) {
      this.fail(req, res, encoding, err);
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

  private fail(req: IncomingMessage, res: ServerResponse, encoding: Encoding, err: unknown): void {
    this.server.refuse(req, res, err, (r) =>
      encoding === 'json'
        ? { contentType: 'application/json', body: encodeStatusJson(r.grpcCode, r.message) }
        : { contentType: 'application/x-protobuf', body: encodeStatus(r.grpcCode, r.message) },
    );
  }

  private reply(res: ServerResponse, status: number, encoding: Encoding, body: Uint8Array | string): void {
    res.statusCode = status;
    res.setHeader('Content-Type', encoding === 'json' ? 'application/json' : 'application/x-protobuf');
    res.end(body);
  }

  /** Refuses new requests with 503 and waits for the ones in flight, up to the deadline. */
  async shutdown(deadline: number): Promise<void> {
    this.closing = true;
    await this.server.shutdown(deadline);
  }
}
