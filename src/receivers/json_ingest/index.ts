import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { ComponentContext, Receiver, ReceiverFactory } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { BackPressureError, ShuttingDownError, errorMessage } from '../../pipeline/errors.js';
import type { LogBatch } from '../../pipeline/model.js';
import { HttpRequestError, closeGracefully, listen, readRequestBody } from '../http.js';
import { jsonIngestConfigSchema, type JsonIngestConfig } from './config.js';
import { mapEntries, type EntryError } from './log-entry-mapper.js';

const INGEST_PATH = '/logs/ingest';

function contentKind(contentType: string | undefined): 'json' | 'ndjson' | undefined {
  const type = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type === '') return 'json';
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonlines') return 'ndjson';
  return undefined;
}

/** The entries of a body: one object, `{"logs": [...]}`, or NDJSON lines (bad lines reported by index). */
function parseEntries(body: Buffer, kind: 'json' | 'ndjson'): { entries: unknown[]; failures: EntryError[] } {
  const text = body.toString('utf8');
  if (kind === 'ndjson') {
    const entries: unknown[] = [];
    const failures: EntryError[] = [];
    let index = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line));
      } catch (err) {
        entries.push(undefined);
        failures.push({ index, reason: `invalid JSON: ${errorMessage(err)}` });
      }
      index++;
    }
    return { entries, failures };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HttpRequestError(400, `invalid JSON: ${errorMessage(err)}`);
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && 'logs' in parsed) {
    const logs = (parsed as { logs: unknown }).logs;
    if (!Array.isArray(logs)) throw new HttpRequestError(400, 'logs: expected an array of log objects');
    return { entries: logs, failures: [] };
  }
  return { entries: [parsed], failures: [] };
}

/**
 * A plain JSON API for scripts and services without an OTel SDK (compatible with the seed
 * service's POST /logs/ingest). Answers {"accepted", "matched", "failed", "errors"}.
 */
export class JsonIngestReceiver implements Receiver {
  private server: Server | undefined;
  private closing = false;
  private readonly apiKeys: Buffer[];
  port = 0;

  constructor(
    private readonly config: JsonIngestConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.apiKeys = config.api_keys.map((k) => Buffer.from(k));
  }

  async start(): Promise<void> {
    const server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 30_000 }, (req, res) => void this.handle(req, res));
    this.port = await listen(server, this.config.endpoint, 'json_ingest');
    this.server = server;
    this.context.logger.info({ endpoint: this.config.endpoint, port: this.port }, 'JSON ingest receiver listening');
  }

  private authorised(req: IncomingMessage): boolean {
    if (this.apiKeys.length === 0) return true;
    const auth = req.headers.authorization;
    const presented = auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : String(req.headers['x-api-key'] ?? '');
    const candidate = Buffer.from(presented);
    return this.apiKeys.some((key) => key.length === candidate.length && timingSafeEqual(key, candidate));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if ((req.url ?? '').split('?')[0] !== INGEST_PATH) throw new HttpRequestError(404, `no such path: ${req.url}; logs go to POST ${INGEST_PATH}`);
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        throw new HttpRequestError(405, `method ${req.method} not allowed; use POST`);
      }
      if (!this.authorised(req)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpRequestError(401, 'missing or unknown API key: send Authorization: Bearer KEY or X-API-Key: KEY');
      }
      const kind = contentKind(req.headers['content-type']);
      if (!kind) throw new HttpRequestError(415, `unsupported content type "${req.headers['content-type']}": use application/json or application/x-ndjson`);
      if (this.closing) {
        res.setHeader('Connection', 'close');
        throw new ShuttingDownError(this.context.id);
      }
      const body = await readRequestBody(req, this.config.max_request_body_size, 'max_request_body_size');
      const { entries, failures } = parseEntries(body, kind);
      const mapped = mapEntries(entries, BigInt(Date.now()) * 1_000_000n, failures);
      if (mapped.errors.length > 0) this.context.telemetry.refused(mapped.errors.length, 'http', 'invalid');
      if (mapped.records > 0) {
        try {
          await this.next.consume(mapped.batch);
        } catch (err) {
          this.context.telemetry.refused(mapped.records, 'http', 'back_pressure');
          throw err;
        }
        this.context.telemetry.accepted(mapped.records, 'http');
      }
      const answer: Record<string, unknown> = { accepted: mapped.records, matched: countTemplated(mapped.batch), failed: mapped.errors.length };
      if (mapped.errors.length > 0) answer.errors = mapped.errors;
      const status = mapped.records === 0 && mapped.errors.length > 0 ? 400 : 200;
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    let status = 500;
    if (err instanceof HttpRequestError) status = err.status;
    else if (err instanceof BackPressureError) {
      status = err instanceof ShuttingDownError ? 503 : 429;
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
    } else this.context.logger.error({ err: errorMessage(err) }, 'JSON ingest request failed');
    if (!req.complete) res.setHeader('Connection', 'close');
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: errorMessage(err) }));
    if (!req.complete) req.resume();
  }

  async shutdown(deadline: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.closing = true;
    await closeGracefully(server, deadline);
  }
}

export const jsonIngestReceiverFactory: ReceiverFactory<typeof jsonIngestConfigSchema> = {
  kind: 'receiver',
  type: 'json_ingest',
  configSchema: jsonIngestConfigSchema,
  create: (config, context, next) => new JsonIngestReceiver(config, context, next),
};

/** Records a templates processor gave a template to (it sets them before the batch moves on). */
function countTemplated(batch: LogBatch): number {
  let n = 0;
  for (const rl of batch.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) if (r.templateId) n++;
  return n;
}
