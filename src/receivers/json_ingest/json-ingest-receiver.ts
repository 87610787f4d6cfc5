import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HeaderReader, ServerAuthenticator } from '../../pipeline/auth.js';
import { TokenSet } from '../../internal/token-set.js';
import type { ComponentContext, Receiver } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { ShuttingDownError, errorMessage } from '../../pipeline/errors.js';
import type { LogBatch } from '../../pipeline/model.js';
import { HttpReceiverServer, HttpRequestError, readRequestBody } from '../http.js';
import { passToPipeline } from '../receive.js';
import { type JsonIngestConfig } from './config.js';
import { mapEntries, type EntryError } from './log-entry-mapper.js';

const INGEST_PATH = '/logs/ingest';

function contentKind(contentType: string | undefined): 'json' | 'ndjson' | undefined {
  const type = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type === '') return 'json';
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonlines')
    return 'ndjson';
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

/** `api_keys`: the seed service's keys, as `Authorization: Bearer KEY` or `X-API-Key: KEY`. */
class ApiKeyAuthenticator implements ServerAuthenticator {
  private readonly keys: TokenSet;

  constructor(keys: string[]) {
    this.keys = new TokenSet(keys);
  }

  authenticate(header: HeaderReader): string | undefined {
    const auth = header('authorization');
    const presented = auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : (header('x-api-key') ?? '');
    if (presented === '') return 'missing API key: send Authorization: Bearer KEY or X-API-Key: KEY';
    return this.keys.has(presented) ? undefined : 'unknown API key';
  }
}

/**
 * A plain JSON API for scripts and services without an OTel SDK (compatible with the seed
 * service's POST /logs/ingest). Answers {"accepted", "matched", "mined", "failed", "errors"}.
 */
export class JsonIngestReceiver implements Receiver {
  private readonly server: HttpReceiverServer;
  private closing = false;
  port = 0;

  constructor(
    private readonly config: JsonIngestConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    const apiKeys = config.api_keys.length > 0 ? new ApiKeyAuthenticator(config.api_keys) : undefined;
    this.server = new HttpReceiverServer(
      config,
      context,
      'json_ingest',
      (req, res) => void this.handle(req, res),
      apiKeys,
    );
  }

  async start(): Promise<void> {
    this.port = await this.server.start();
    this.context.logger.info(
      { endpoint: this.config.endpoint, port: this.port, tls: this.server.tlsEnabled },
      'JSON ingest receiver listening',
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if ((req.url ?? '').split('?')[0] !== INGEST_PATH)
        throw new HttpRequestError(404, `no such path: ${req.url}; logs go to POST ${INGEST_PATH}`);
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        throw new HttpRequestError(405, `method ${req.method} not allowed; use POST`);
      }
      const unauthenticated = this.server.authenticate(req);
      if (unauthenticated !== undefined) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpRequestError(401, `unauthenticated: ${unauthenticated}`);
      }
      const kind = contentKind(req.headers['content-type']);
      if (!kind)
        throw new HttpRequestError(
          415,
          `unsupported content type "${req.headers['content-type']}": use application/json or application/x-ndjson`,
        );
      if (this.closing) {
        res.setHeader('Connection', 'close');
        throw new ShuttingDownError(this.context.id);
      }
      const body = await readRequestBody(req, this.config.max_request_body_size, 'max_request_body_size');
      const { entries, failures } = parseEntries(body, kind);
      const mapped = mapEntries(entries, BigInt(Date.now()) * 1_000_000n, failures);
      // mapped keeps the batch while the pipeline has it: the answer counts the templates set on it.
      await passToPipeline(this.context.telemetry, 'http', this.next, this.config.wait_for_room, {
        batch: mapped.batch,
        records: mapped.records,
        rejected: mapped.errors.length,
        unrepresentableTimes: mapped.unrepresentableTimes,
      });
      const templated = countTemplated(mapped.batch);
      const answer: Record<string, unknown> = {
        accepted: mapped.records,
        matched: templated.matched,
        mined: templated.mined,
        failed: mapped.errors.length,
      };
      if (mapped.errors.length > 0) answer.errors = mapped.errors;
      const status = mapped.records === 0 && mapped.errors.length > 0 ? 400 : 200;
      if (status === 400)
        this.server.noteRefusal('invalid', status, `every entry is invalid; the first: ${mapped.errors[0]!.reason}`);
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    this.server.refuse(req, res, err, (r) => ({
      contentType: 'application/json',
      body: JSON.stringify({ error: r.message }),
    }));
  }

  async shutdown(deadline: number): Promise<void> {
    this.closing = true;
    await this.server.shutdown(deadline);
  }
}

/**
 * Records a templates processor gave a template to (it sets them before the batch moves on), as
 * its /stats counts them: matched to a template it already had, or mined (learned) from them.
 */
function countTemplated(batch: LogBatch): { matched: number; mined: number } {
  let matched = 0;
  let mined = 0;
  for (const rl of batch.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      for (const r of sl.logRecords) {
        if (!r.templateId) continue;
        if (r.templateMined) mined++;
        else matched++;
      }
    }
  }
  return { matched, mined };
}
