import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { parseHostPort } from '../config/types.js';
import { errorMessage } from '../pipeline/errors.js';

/**
 * What the HTTP receivers share. Reading request bodies: a size limit on what is sent and on what it
 * decompresses to (a small gzip body can expand to gigabytes), and gzip, deflate or zstd.
 */

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

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

export async function readRequestBody(req: IncomingMessage, limit: number, limitName: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw new HttpRequestError(413, `request body of ${declared} bytes exceeds ${limitName} ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpRequestError(413, `request body exceeds ${limitName} ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  return decompress(raw, String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase(), limit, limitName);
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
      throw new HttpRequestError(413, `decompressed body exceeds ${limitName} ${limit} bytes`);
    }
    throw new HttpRequestError(400, `cannot decompress ${contentEncoding} body: ${errorMessage(err)}`);
  }
}

/** Listens on host:port; resolves with the bound port (port 0 picks a free one). */
export async function listen(server: Server, address: string, what: string): Promise<number> {
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
