import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ComponentContext, NewTemplate, StoredTemplate } from '../../pipeline/component.js';
import { QueuedExporter, type ExportSender, type PayloadCodec } from '../../pipeline/exporter-helper.js';
import type { LogBatch } from '../../pipeline/model.js';
import { parseEndpoint, type ClickHouseExporterConfig } from './config.js';
import { classifyClickHouseError, isMissingSchemaError } from './error-classifier.js';
import { encodeInsert, encodeNewTemplatesInsert, encodeTemplatesInsert } from './row-encoder.js';
import { schemaStatements } from './schema.js';

export async function openClient(config: ClickHouseExporterConfig): Promise<ClickHouseClient> {
  const target = parseEndpoint(config.endpoint)!;
  if (target.kind === 'server') {
    return createClient({
      url: target.url,
      username: config.username,
      password: config.password,
      request_timeout: config.timeout,
      compression: { request: config.compress, response: false },
      application: 'otelhouse',
      // Failures are logged once, with their classification, by the exporter.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }
  const path = resolve(target.path);
  mkdirSync(path, { recursive: true });
  // chdb loads a large native library: import it only when embedded storage is used.
  const { createChdbConnection } = await import('chdb/connection');
  return createClient({ connection: createChdbConnection({ path }), log: { level: ClickHouseLogLevel.OFF } } as Parameters<typeof createClient>[0]);
}

/**
 * Writes batches into otel_logs, through @clickhouse/client for both a server and embedded chDB.
 * Each batch is one INSERT carrying the queue's stable token as insert_deduplication_token, so a
 * batch retried after an ambiguous failure (the server stored it but the answer was lost) is
 * stored once.
 */
export class ClickHouseLogsExporter {
  private client: ClickHouseClient | undefined;
  private schemaReady = false;
  private connected = false;
  private readonly table: string;
  private readonly templatesTable: string;
  readonly queue: QueuedExporter<InsertPayload>;

  constructor(
    private readonly config: ClickHouseExporterConfig,
    private readonly context: ComponentContext,
  ) {
    this.table = `${config.database}.${config.logs_table_name}`;
    this.templatesTable = `${config.database}.${config.templates_table_name}`;
    const sender: ExportSender<InsertPayload> = {
      codec: insertPayloadCodec,
      // The statements as run, to apply by hand once the cause is fixed.
      deadLetterFiles: (payload) => [{ suffix: '.sql', data: `${payload.logs};\n${payload.templates ? `${payload.templates};\n` : ''}` }],
      prepare: (batch: LogBatch): InsertPayload => {
        const now = BigInt(Date.now()) * 1_000_000n;
        return { logs: encodeInsert(batch, this.table, now), templates: encodeTemplatesInsert(batch, this.templatesTable, now) };
      },
      attempt: async (payload: InsertPayload, records: number, token: string) => {
        await this.insert(payload.logs, `inserting ${records} log records`, token);
        // Its own token: a retry after the logs were stored stores the template counts once too.
        if (payload.templates) await this.insert(payload.templates, `updating the templates of ${records} log records`, `${token}:templates`);
      },
    };
    this.queue = new QueuedExporter(context, config.sending_queue, config.retry_on_failure, sender, {
      start: () => this.start(),
      stop: () => this.stop(),
      health: () => ({ clickhouse_connected: this.connected, endpoint: redact(config.endpoint) }),
    }, config.dead_letter);
  }

  private async start(): Promise<void> {
    this.client = await openClient(this.config);
    try {
      await this.ensureSchema();
    } catch (err) {
      // The server may come up after us: exports retry the schema before their insert.
      this.context.logger.warn({ err: (err as Error).message, endpoint: redact(this.config.endpoint) }, 'ClickHouse not ready at start; will retry');
    }
  }

  private async stop(): Promise<void> {
    await this.client?.close();
  }

  private async ensureSchema(): Promise<void> {
    if (this.schemaReady) return;
    const client = this.client!;
    try {
      if (this.config.create_schema) {
        for (const query of schemaStatements(this.config)) await client.command({ query });
      } else {
        await client.command({ query: `SELECT 1 FROM ${this.config.database}.${this.config.logs_table_name} LIMIT 0` });
      }
    } catch (err) {
      this.connected = false;
      throw classifyClickHouseError(err, this.config.create_schema ? 'creating the schema' : 'checking the logs table');
    }
    this.schemaReady = true;
    this.connected = true;
  }

  /** The current templates: most recently seen first, without the ones a generalisation replaced. */
  async loadTemplates(limit: number): Promise<StoredTemplate[]> {
    await this.ensureSchema();
    const t = this.templatesTable;
    const result = await this.client!.query({
      query:
        `SELECT toString(TemplateId) AS id, anyLast(Text) AS text, groupUniqArrayArray(Services) AS services, toString(sum(Count)) AS count, max(LastSeen) AS last, anyLast(Source) AS source ` +
        `FROM ${t} WHERE TemplateId NOT IN (SELECT arrayJoin(ReplacedIds) FROM ${t}) GROUP BY TemplateId ORDER BY last DESC LIMIT {limit:UInt32}`,
      query_params: { limit },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ id: string; text: string; services: string[]; count: string; source: string }>();
    return rows.map((r) => ({ id: BigInt(r.id), text: r.text, services: r.services, count: Number(r.count), source: r.source === 'llm' ? 'llm' : 'miner' }));
  }

  /** Stores templates no record carried yet; its token makes a repeated call store them once. */
  async saveTemplates(templates: NewTemplate[]): Promise<void> {
    if (templates.length === 0) return;
    const query = encodeNewTemplatesInsert(templates, this.templatesTable, BigInt(Date.now()) * 1_000_000n);
    await this.insert(query, `storing ${templates.length} new templates`, `templates:${templates.map((t) => t.template.id).join(',')}`);
  }

  private async insert(query: string, what: string, token: string): Promise<void> {
    await this.ensureSchema();
    try {
      const result = await this.client!.exec({
        query,
        clickhouse_settings: {
          max_query_size: String(query.length * 3 + 1024),
          ...this.config.insert_settings,
          insert_deduplication_token: token,
          // A deduplicated insert still runs the materialised views; this makes their target
          // tables (which keep a deduplication window) drop the repeat too.
          deduplicate_blocks_in_dependent_materialized_views: 1,
        },
      });
      result.stream.resume();
      this.connected = true;
    } catch (err) {
      const classified = classifyClickHouseError(err, what);
      this.connected = classified.name === 'PermanentExportError';
      if (isMissingSchemaError(err)) {
        // Dropped since it was created: the retry creates it again (create_schema) or waits for it.
        this.schemaReady = false;
        this.context.logger.warn({ err: classified.message }, this.config.create_schema ? 'a table is missing; it is created again before the retry' : 'a table is missing (create_schema: false); retrying until it exists');
      }
      throw classified;
    }
  }
}

interface InsertPayload {
  logs: string;
  templates: string | undefined;
}

/** u32 byte length of the logs statement, the logs statement, then the templates statement (if any), as UTF-8. */
const insertPayloadCodec: PayloadCodec<InsertPayload> = {
  encode(p) {
    const logsBytes = Buffer.byteLength(p.logs);
    const out = Buffer.allocUnsafe(4 + logsBytes + (p.templates ? Buffer.byteLength(p.templates) : 0));
    out.writeUInt32LE(logsBytes, 0);
    out.write(p.logs, 4);
    if (p.templates) out.write(p.templates, 4 + logsBytes);
    return out;
  },
  decode(bytes) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = 4 + buf.readUInt32LE(0);
    return { logs: buf.toString('utf8', 4, end), templates: end < buf.length ? buf.toString('utf8', end) : undefined };
  },
  byteLength: (p) => p.logs.length + (p.templates?.length ?? 0),
};

function redact(endpoint: string): string {
  return endpoint.replace(/\/\/[^@/]*@/, '//***@');
}
