import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import zstd from 'zstd-napi/binding.js';
import { z } from 'zod';
import { duration, hostPort, parseHostPort, positiveInt } from '../config/types.js';
import type { ServerAuthenticator } from '../pipeline/auth.js';
import type { ComponentContext } from '../pipeline/component.js';
import { errorMessage } from '../pipeline/errors.js';
import { authSchema, httpHeaders, resolveAuthenticator } from './auth.js';
import type { RequestRefusalReason } from '../telemetry/metrics.js';
import { RefusedRequests, refusalFor, refusalForHttpStatus, retryAfterHeader, type Refusal } from './refusal.js';
import { ServerTlsCredentials, tlsServerSchema } from './tls.js';

/**
 * What the HTTP receivers share: the server settings (TLS, auth, limits, timeouts, in the OTel
 * Collector's confighttp shape), reading request bodies with a size limit on what is sent and on
 * what it decompresses to (a small gzip or zstd body can expand to gigabytes), gzip, deflate or
 * zstd, and answering a refused request.
 */

/** Settings of an HTTP receiver's server; spread into its config schema with its own endpoint default. */
export function httpServerSettings(defaultEndpoint: string) {
  return {
    endpoint: hostPort(defaultEndpoint),
    tls: tlsServerSchema.optional(),
    auth: authSchema.optional(),
    /** Largest request body, in bytes, both as sent and after decompression; larger → 413. */
    max_request_body_size: positiveInt(20 * 1024 * 1024),
    /** Connections open at once; more are closed as soon as they are accepted. */
    max_connections: positiveInt(4096),
    /**
     * Time from a connection's first byte (or the end of the previous request) to the request's
     * last header: the slowloris guard; also bounds the TLS handshake.
     */
    read_header_timeout: duration('10s').refine((ms) => ms > 0, {
      message: 'must be greater than 0 (it guards against clients that send headers slowly)',
    }),
    /** Time to receive a whole request, headers and body; 0: no limit. */
    read_timeout: duration('1m'),
    /** How long a keep-alive connection may wait for its next request; 0: no limit. */
    idle_timeout: duration('1m'),
    /**
     * A request that finds the pipeline full waits this long for room before it is refused (429); 0
     * refuses at once. Keep it below the clients' export timeout (10 s in the OTel SDKs).
     */
    wait_for_room: duration('5s'),
  };
}

export type HttpServerSettings = z.output<z.ZodObject<ReturnType<typeof httpServerSettings>>>;

/** read_timeout covers the headers too, so it cannot be shorter than read_header_timeout. */
export function checkHttpTimeouts(c: { read_timeout: number; read_header_timeout: number }): boolean {
  return c.read_timeout === 0 || c.read_timeout >= c.read_header_timeout;
}
export const HTTP_TIMEOUTS_MESSAGE = {
  message: 'read_timeout must be 0 or at least read_header_timeout',
  path: ['read_timeout'],
};

/**
 * An HTTP or HTTPS server with a receiver's settings: TLS with certificate reloading, a connection
 * limit, header, request and idle timeouts, and the authenticator its `auth` names.
 */
export class HttpReceiverServer {
  private server: Server | undefined;
  private tls: ServerTlsCredentials | undefined;
  private readonly authenticator: ServerAuthenticator | undefined;
  private readonly refusals: RefusedRequests;
  port = 0;

  constructor(
    private readonly settings: HttpServerSettings,
    private readonly context: ComponentContext,
    private readonly what: string,
    private readonly handler: RequestListener,
    authenticator?: ServerAuthenticator,
  ) {
    this.authenticator = authenticator ?? resolveAuthenticator(settings.auth, context);
    this.refusals = new RefusedRequests(context, 'http');
  }

  async start(): Promise<number> {
    const s = this.settings;
    const options: ServerOptions = {
      headersTimeout: s.read_header_timeout,
      requestTimeout: s.read_timeout,
      keepAliveTimeout: s.idle_timeout,
      // Node checks the header and request timeouts at this interval (30 s by default).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(s.read_header_timeout / 4))),
    };
    let server: Server;
    if (s.tls) {
      const tls = new ServerTlsCredentials(s.tls, this.context.logger);
      await tls.start();
      const https = createHttpsServer({ ...options, ...tls.serverOptions(s.read_header_timeout) }, this.handler);
      tls.attach(https, () => this.refusals.note('tls_handshake_failed', 'TLS handshake failed'));
      server = https;
      this.tls = tls;
    } else {
      server = createHttpServer(options, this.handler);
    }
    server.maxConnections = s.max_connections;
    server.on('drop', () =>
      this.refusals.note('too_many_connections', `more than max_connections ${s.max_connections} connections at once`),
    );
    try {
      this.port = await listen(server, s.endpoint, this.what);
    } catch (err) {
      this.tls?.stop();
      throw err;
    }
    this.server = server;
    if (this.authenticator && !s.tls)
      this.context.logger.warn({ endpoint: s.endpoint }, 'auth without tls: tokens cross the network in clear text');
    return this.port;
  }

  /** undefined when the request may pass (or no auth is configured), else the reason to answer 401 with. */
  authenticate(req: IncomingMessage): string | undefined {
    if (!this.authenticator) return undefined;
    return this.authenticator.authenticate(httpHeaders(req));
  }

  /** Answers a refused request (see answerRefusal), counts it under its reason and logs it, rate-limited. */
  refuse(
    req: IncomingMessage,
    res: ServerResponse,
    err: unknown,
    encode: (refusal: Refusal) => { contentType: string; body: string | Uint8Array },
  ): Refusal {
    const refusal = answerRefusal(req, res, err, this.context, encode);
    this.noteRefusal(refusal.reason, refusal.httpStatus, refusal.message);
    return refusal;
  }

  /** Counts and logs a request refused with an answer of the receiver's own (a body with every record invalid). */
  noteRefusal(reason: RequestRefusalReason, status: number, message: string): void {
    this.refusals.note(reason, message, { status });
  }

  get tlsEnabled(): boolean {
    return this.settings.tls !== undefined;
  }

  async shutdown(deadline: number): Promise<void> {
    this.tls?.stop();
    if (this.server) await closeGracefully(this.server, deadline);
  }
}

/** A request the receiver refuses, with the HTTP status to answer. */
export class HttpRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpRequestError';
  }
}

/**
 * Answers a request a receiver refuses, with `encode`'s body: an HttpRequestError's own status, or
 * for a pipeline error its refusal (with Retry-After when the client should retry). A body not
 * read to the end may still be arriving: the connection closes after the answer, and what is left
 * is drained meanwhile so the client reads the answer rather than a reset.
 */
export function answerRefusal(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  context: ComponentContext,
  encode: (refusal: Refusal) => { contentType: string; body: string | Uint8Array },
): Refusal {
  const refusal = err instanceof HttpRequestError ? refusalForHttpStatus(err.status, err.message) : refusalFor(err);
  if (refusal.retryAfterMs !== undefined) res.setHeader('Retry-After', retryAfterHeader(refusal.retryAfterMs));
  if (refusal.unexpected) context.logger.error({ err: errorMessage(err) }, 'request failed');
  if (refusal.httpStatus === 413 || !req.complete) res.setHeader('Connection', 'close');
  const { contentType, body } = encode(refusal);
  res.statusCode = refusal.httpStatus;
  res.setHeader('Content-Type', contentType);
  res.end(body);
  if (!req.complete) req.resume();
  return refusal;
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

export async function readRequestBody(req: IncomingMessage, limit: number, limitName: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit)
    throw new HttpRequestError(413, `request body of ${declared} bytes exceeds ${limitName} ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpRequestError(413, `request body exceeds ${limitName} ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  return decompress(
    raw,
    String(req.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase(),
    limit,
    limitName,
  );
}

async function decompress(raw: Buffer, contentEncoding: string, limit: number, limitName: string): Promise<Buffer> {
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
      case 'zstd':
        return await zstdDecompress(raw, limit, limitName);
      default:
        throw new HttpRequestError(
          415,
          `unsupported Content-Encoding "${contentEncoding}": use gzip, deflate, zstd or none`,
        );
    }
  } catch (err) {
    if (err instanceof HttpRequestError) throw err;
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new HttpRequestError(413, `decompressed body exceeds ${limitName} ${limit} bytes`);
    }
    throw new HttpRequestError(400, `cannot decompress ${contentEncoding} body: ${errorMessage(err)}`);
  }
}

/**
 * Largest zstd window accepted: 2^23 = 8 MiB, what zstd's levels 1–19 and Go's klauspost encoder
 * (the OTel Collector's) use, and what the format asks every decoder to support. The decoder
 * allocates the window a frame declares, so a 10-byte frame could otherwise claim 2 GiB.
 */
export const ZSTD_WINDOW_LOG_MAX = 23;
const ZSTD_OUTPUT_CHUNK = 128 * 1024;
/** Output decoded between two turns of the event loop. */
const ZSTD_YIELD_BYTES = 2 * 1024 * 1024;

/**
 * Streams through libzstd in 128 KiB steps and stops as soon as the output passes the limit, so a
 * bomb costs at most `limit` bytes of work and memory; it lets the event loop turn every 2 MiB.
 */
async function zstdDecompress(raw: Buffer, limit: number, limitName: string): Promise<Buffer> {
  if (raw.length === 0) return raw;
  const dctx = new zstd.DCtx();
  dctx.setParameter(zstd.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX);
  const chunks: Buffer[] = [];
  let size = 0;
  let sinceYield = 0;
  let input: Buffer = raw;
  // Whether the last call that made progress left a frame unfinished (a call after a frame's end,
  // with no input, says nothing about it).
  let frameOpen = false;
  for (;;) {
    // One byte more than the limit allows is enough to know it was passed.
    const out = Buffer.allocUnsafe(Math.min(ZSTD_OUTPUT_CHUNK, limit - size + 1));
    let left: number;
    let produced: number;
    let consumed: number;
    try {
      [left, produced, consumed] = dctx.decompressStream(out, input);
    } catch (err) {
      if (/too much memory/i.test(errorMessage(err))) {
        throw new HttpRequestError(
          413,
          `zstd frame needs a window larger than ${2 ** ZSTD_WINDOW_LOG_MAX / 1048576} ` +
            `MiB; compress with a smaller window (levels 1–19)`,
        );
      }
      throw err;
    }
    if (produced > 0 || consumed > 0) frameOpen = left !== 0;
    size += produced;
    if (size > limit) throw new HttpRequestError(413, `decompressed body exceeds ${limitName} ${limit} bytes`);
    if (produced > 0) chunks.push(out.subarray(0, produced));
    input = input.subarray(consumed);
    // Output not full: libzstd has flushed all it can from the input it has.
    if (input.length === 0 && produced < out.length) {
      if (frameOpen) throw new Error('truncated zstd frame');
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    }
    sinceYield += produced;
    if (sinceYield >= ZSTD_YIELD_BYTES) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** Listens on host:port; resolves with the bound port (port 0 picks a free one). */
export async function listen(server: NetServer, address: string, what: string): Promise<number> {
  const { host, port } = parseHostPort(address)!;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`${what} cannot listen on ${address}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Stops accepting connections, lets requests in flight finish, and closes idle keep-alive
 * connections; whatever is still open at the deadline is cut.
 */
export async function closeGracefully(server: Server, deadline: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), Math.max(0, deadline - Date.now()));
  await closed;
  clearTimeout(force);
}
