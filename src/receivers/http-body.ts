import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { errorMessage } from '../pipeline/errors.js';

/**
 * Reading request bodies for the HTTP receivers: a size limit on what is sent and on what it
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
