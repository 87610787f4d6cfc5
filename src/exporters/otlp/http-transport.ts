import * as http from 'node:http';
import * as https from 'node:https';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { PermanentExportError, RetryableExportError, errorMessage } from '../../pipeline/errors.js';
import { decodeStatus } from '../../otlp/index.js';
import { httpLogsUrl, type OtlpExporterConfig } from './config.js';
import type { LogsTransport, TlsMaterial } from './transport.js';
import { parseRetryAfter } from '../../internal/retry-after.js';

// zlib's async calls run on libuv's thread pool, off the event loop.
const COMPRESSORS = { gzip: promisify(zlib.gzip), deflate: promisify(zlib.deflate) } as const;

/** The statuses the OTLP specification makes retryable; every other error status is permanent. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/** Error bodies are short google.rpc.Status messages; a server that sends more is cut off here. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The reason a server gave in an error body: a google.rpc.Status, or failing that its text. */
function describeErrorBody(body: Buffer): string {
  if (body.length === 0) return '';
  try {
    const status = decodeStatus(body);
    if (status.message) return status.message;
  } catch {
    // Not protobuf: a proxy's HTML or text page.
  }
  return body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
}

/** OTLP/HTTP with protobuf bodies, over keep-alive connections. */
export class HttpLogsTransport implements LogsTransport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly headers: Record<string, string>;
  readonly target: string;

  constructor(
    private readonly config: OtlpExporterConfig,
    tls: TlsMaterial,
  ) {
    this.url = httpLogsUrl(config)!;
    this.target = this.url.href;
    this.agent =
      this.url.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            rejectUnauthorized: !config.tls.insecure_skip_verify,
            servername: config.tls.server_name_override,
          })
        : new http.Agent({ keepAlive: true });
    this.headers = { ...config.headers, 'content-type': 'application/x-protobuf', 'user-agent': 'otelhouse' };
    if (config.compression !== 'none') this.headers['content-encoding'] = config.compression;
  }

  async send(body: Uint8Array): Promise<Uint8Array> {
    const payload = this.config.compression === 'none' ? body : await COMPRESSORS[this.config.compression](body);
    let answer: HttpAnswer;
    try {
      answer = await this.post(payload);
    } catch (err) {
      throw new RetryableExportError(`OTLP/HTTP export to ${this.target} failed: ${errorMessage(err)}`, { cause: err });
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    const reason = describeErrorBody(answer.body);
    const message = `OTLP/HTTP export to ${this.target} answered ${answer.status}${reason ? `: ${reason}` : ''}`;
    if (RETRYABLE_STATUSES.has(answer.status)) {
      throw new RetryableExportError(message, { retryAfterMs: parseRetryAfter(answer.headers['retry-after']) });
    }
    throw new PermanentExportError(message);
  }

  private post(payload: Uint8Array): Promise<HttpAnswer> {
    const request = this.url.protocol === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...this.headers, 'content-length': String(payload.byteLength) },
          signal: AbortSignal.timeout(this.config.timeout),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
