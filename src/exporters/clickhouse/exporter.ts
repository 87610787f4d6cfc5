import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ComponentContext, NewTemplate, StoredTemplate } from '../../pipeline/component.js';
import type { DeadLetterFile } from '../../exporterhelper/dead-letter.js';
import type {
  ExportOutcome,
  ExportSender,
  PayloadBuilder,
  PayloadCodec,
} from '../../exporterhelper/queued-exporter.js';
import { PermanentExportError, RetryableExportError } from '../../pipeline/errors.js';
import { StoreUnavailableError, type LogStoreTables } from '../../pipeline/host.js';
import type { LogBatch } from '../../pipeline/model.js';
import { parseEndpoint, requestCompression, type ClickHouseExporterConfig } from './config.js';
import { classifyClickHouseError, isMissingSchemaError, isRowDependent } from './error-classifier.js';
import {
  countOlderThan,
  LogsInsertBuilder,
  encodeNewTemplatesInsert,
  TemplatesInsertBuilder,
  logsBodyInsertHead,
  logsFileInsertStatement,
  logsInsertStatement,
  partLines,
  rowsPart,
  withInsertSettings,
  zstdFrame,
  type LogsInsert,
  type RowsPart,
} from './row-encoder.js';
import { bodyTextIndexStatements, embeddedPartsStatement, mergeSettingsStatement, schemaStatements } from './schema.js';
import { currentTemplatesQuery } from './template-queries.js';
import { ClickHouseMetrics } from './metrics.js';
import { RowsFiles } from './rows-files.js';
import { forgetUncommittedBlocks, scanStoreDeduplicationLogs, type StoreTableScan } from './deduplication-log.js';

export async function openClient(config: ClickHouseExporterConfig, database?: string): Promise<ClickHouseClient> {
  const target = parseEndpoint(config.endpoint)!;
  if (target.kind === 'server') {
    return createClient({
      url: target.url,
      ...(database ? { database } : {}),
      username: config.username,
      password: config.password,
      request_timeout: config.timeout,
      compression: { request: requestCompression(config.compress), response: false },
      application: 'otelhouse',
      // Failures are logged once, with their classification, by the exporter.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }
  const path = resolve(target.path);
  mkdirSync(path, { recursive: true });
  // chdb loads a large native library: import it only when embedded storage is used.
  const { createChdbConnection } = await import('chdb/connection');
  return createClient({
    connection: createChdbConnection({ path }),
    log: { level: ClickHouseLogLevel.OFF },
  } as Parameters<typeof createClient>[0]);
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
}

/** Attempts after which an insert refused for its size (memory, time) is cut in halves. */
const SPLIT_AFTER_ATTEMPTS = 3;
/**
 * Failed inserts one part may spend on isolating refused rows: about 15 refused rows among 20,000
 * (each costs log2(rows) failures). Past it the ranges still refused go to the dead-letter
 * directory whole, so a batch whose every row is refused costs a bounded number of inserts.
 */
const CUT_FAILURE_BUDGET = 256;
/** Least time between two reloads of the template dictionaries in embedded mode. */
const DICTIONARY_RELOAD_MS = 1000;

/** Rows of one part that ClickHouse refused for good: [start, end) in the part's lines. */
interface RefusedRange {
  start: number;
  end: number;
  records: number;
  errors: string[];
}

/** Cutting one part of a batch in halves to find the rows ClickHouse refuses. */
interface PartCut {
  logs: LogsInsert;
  part: RowsPart;
  /** The part's lines, decompressed once it is cut. */
  lines: Buffer | undefined;
  token: string;
  splitOnSize: boolean;
  failuresLeft: number;
  refused: RefusedRange[];
}

/**
 * Writes batches into otel_logs, through @clickhouse/client for both a server and embedded chDB.
 * Each part of a batch (at most MAX_DAYS_PER_PART days) is one INSERT carrying a token derived
 * from the queue's stable token as insert_deduplication_token, so a batch retried after an
 * ambiguous failure (the server stored it but the answer was lost) is stored once. An insert
 * ClickHouse refuses because of some rows is cut in halves until those rows are isolated: they go
 * to the dead-letter directory with ClickHouse's reason, and the others are stored.
 */
export class ClickHouseLogsSender implements ExportSender<InsertPayload> {
  private readonly metrics: ClickHouseMetrics;
  private client: ClickHouseClient | undefined;
  private schemaReady = false;
  private connected = false;
  private readonly table: string;
  private readonly templatesTable: string;
  readonly codec = insertPayloadCodec;
  private dictionaryReload: NodeJS.Timeout | undefined;
  /** The reload running now: the client is closed only after it (chDB crashes closing a session mid-query). */
  private dictionaryReloading: Promise<void> | undefined;
  private lastDictionaryReload = 0;
  private stopped = false;
  /** Embedded only: where the rows of inserts are written for chDB to read. */
  private rowsFiles: RowsFiles | undefined;

  constructor(
    private readonly config: ClickHouseExporterConfig,
    private readonly context: ComponentContext,
  ) {
    this.metrics = new ClickHouseMetrics(context.telemetry);
    this.table = `${config.database}.${config.logs_table_name}`;
    this.templatesTable = `${config.database}.${config.templates_table_name}`;
  }

  prepare(batch: LogBatch): InsertPayload {
    const builder = this.builder();
    builder.add(batch);
    return builder.finish();
  }

  builder(): PayloadBuilder<InsertPayload> {
    const logs = new LogsInsertBuilder();
    const templates = new TemplatesInsertBuilder();
    const ttlNanos = BigInt(this.config.ttl) * 1_000_000n;
    return {
      add: (batch) => {
        const now = BigInt(Date.now()) * 1_000_000n;
        logs.add(batch, now);
        templates.add(batch, now);
        // Still inserted: ClickHouse is the judge of its TTL (its clock, whole parts), and the
        // rows stay queryable until it drops them. Counted, since the sender was answered 200.
        if (ttlNanos > 0n) {
          const expired = countOlderThan(batch, now - ttlNanos, now);
          if (expired > 0) this.metrics.expired(expired);
        }
      },
      finish: () => ({ logs: logs.finish(), templates: templates.finish(this.templatesTable) }),
    };
  }

  attempt(payload: InsertPayload, records: number, token: string, attempt: number): Promise<ExportOutcome | undefined> {
    return this.send(payload, records, token, attempt);
  }

  deadLetterFiles(payload: InsertPayload, token: string): DeadLetterFile[] {
    return [{ suffix: '.sql', data: this.deadLetterSql(payload, token) }];
  }

  health(): Record<string, unknown> {
    return { clickhouse_connected: this.connected, endpoint: redact(this.config.endpoint) };
  }

  private async send(
    payload: InsertPayload,
    records: number,
    token: string,
    attempt: number,
  ): Promise<ExportOutcome | undefined> {
    const cuts: PartCut[] = [];
    if (payload.logs) {
      const { parts } = payload.logs;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        const cut: PartCut = {
          logs: payload.logs,
          part,
          lines: undefined,
          token: parts.length === 1 ? token : `${token}:${i}`,
          splitOnSize: attempt >= SPLIT_AFTER_ATTEMPTS,
          failuresLeft: CUT_FAILURE_BUDGET,
          refused: [],
        };
        await this.insertRows(cut, 0, part.bytes, part.rows);
        if (cut.refused.length > 0) cuts.push(cut);
      }
    } else {
      await this.insert(payload.legacyLogs!, `inserting ${records} log records`, token);
    }
    // Its own token: a retry after the logs were stored stores the template counts once too.
    if (payload.templates) {
      await this.insert(payload.templates, `updating the templates of ${records} log records`, `${token}:templates`);
      this.reloadDictionariesSoon();
    }
    if (cuts.length === 0) return undefined;
    return this.refusedOutcome(cuts, records);
  }

  /**
   * Inserts rows [start, end) of a part; if ClickHouse refuses them because of what some rows
   * hold, cuts them in halves and inserts each, down to single rows, which are then kept as
   * refused. With splitOnSize, an insert refused for its size (memory, time) is cut too. A half's
   * token follows from the rows it holds, so a retry of the batch stores each half once.
   */
  private async insertRows(cut: PartCut, start: number, end: number, lines: number): Promise<void> {
    const whole = start === 0 && end === cut.part.bytes;
    const token = whole ? cut.token : `${cut.token}:${start}-${end}`;
    try {
      // The whole part goes as it was queued, compressed; a half of it as its lines.
      const rows = whole ? cut.part : (cut.lines ??= partLines(cut.part)).subarray(start, end);
      if (this.rowsFiles) await this.insertFromFile(this.rowsFiles, cut.logs, rows, lines, token);
      else await this.insertInBody(cut.logs, rows, lines, token);
    } catch (err) {
      const permanent = err instanceof PermanentExportError;
      if (!isRowDependent(err, !permanent) || (!permanent && !cut.splitOnSize)) throw err;
      cut.failuresLeft--;
      if (lines === 1 || cut.failuresLeft <= 0) {
        if (!permanent) throw err;
        refuse(cut.refused, { start, end, records: lines, errors: [(err as Error).message] });
        return;
      }
      const half = lines >>> 1;
      const middle = lineStart((cut.lines ??= partLines(cut.part)), start, half);
      await this.insertRows(cut, start, middle, half);
      await this.insertRows(cut, middle, end, lines - half);
    }
  }

  /**
   * Embedded: the rows go to chDB in a file (a whole part compressed, as chDB reads .zst files),
   * which is removed once the insert has ended either way.
   */
  private async insertFromFile(
    files: RowsFiles,
    logs: LogsInsert,
    rows: RowsPart | Buffer,
    lines: number,
    token: string,
  ): Promise<void> {
    let file: string;
    try {
      file = Buffer.isBuffer(rows) ? await files.write(rows, '.jsonl') : await files.write(rows.zstd, '.jsonl.zst');
    } catch (err) {
      throw new RetryableExportError(
        `writing ${lines} log records to a file for chDB to insert: ${(err as Error).message}`,
        { cause: err },
      );
    }
    try {
      await this.insert(logsFileInsertStatement(this.table, logs, file), `inserting ${lines} log records`, token);
    } finally {
      await files.remove(file);
    }
  }

  /**
   * A server: the query, then the rows, in one request body. With zstd, the body is a frame of the
   * query and the part's frame as queued; otherwise plain lines, which the client compresses.
   */
  private async insertInBody(logs: LogsInsert, rows: RowsPart | Buffer, lines: number, token: string): Promise<void> {
    const head = logsBodyInsertHead(this.table, logs);
    let body: Buffer[];
    if (this.config.compress !== 'zstd') body = [Buffer.from(head), Buffer.isBuffer(rows) ? rows : partLines(rows)];
    else body = [zstdFrame(head), Buffer.isBuffer(rows) ? rowsPart(rows, lines).zstd : rows.zstd];
    await this.insert(head, `inserting ${lines} log records`, token, {
      values: Readable.from(body, { objectMode: false }),
      http_headers: this.config.compress === 'zstd' ? { 'Content-Encoding': 'zstd' } : {},
    });
  }

  /** What ClickHouse refused, as one dead-letter entry: a statement per run of refused rows. */
  private refusedOutcome(cuts: PartCut[], records: number): ExportOutcome {
    let rejected = 0;
    const reasons = new Set<string>();
    let sql = '';
    for (const cut of cuts) {
      for (const r of cut.refused) {
        rejected += r.records;
        for (const e of r.errors) reasons.add(e);
        // A token of its own: these rows were never stored under any token the exporter used.
        const statement = this.keptStatement(
          logsInsertStatement(this.table, cut.logs, cut.lines!.toString('utf8', r.start, r.end)),
          `${cut.token}:refused:${r.start}-${r.end}`,
        );
        sql +=
          `-- ${r.records} log records ` +
          `refused: ${r.errors.slice(0, 3).join(' | ').replace(/\s+/g, ' ')}\n${statement};\n`;
      }
    }
    const list = [...reasons];
    return {
      rejected,
      deadLetter: {
        error:
          `ClickHouse refused ${rejected} of ${records} log records (the others were stored)` +
          `: ${list.slice(0, 3).join('; ')}${list.length > 3 ? `; and ${list.length - 3} other reasons` : ''}`,
        files: [{ suffix: '.sql', data: sql }],
      },
    };
  }

  /** A whole batch's statements, for the dead-letter directory, each with the token it was sent with. */
  private deadLetterSql(payload: InsertPayload, token: string): string {
    const statements: string[] = [];
    if (payload.logs) {
      const { parts } = payload.logs;
      parts.forEach((part, i) =>
        statements.push(
          this.keptStatement(
            logsInsertStatement(this.table, payload.logs!, partLines(part).toString()),
            parts.length === 1 ? token : `${token}:${i}`,
          ),
        ),
      );
    } else {
      statements.push(this.keptStatement(payload.legacyLogs!, token));
    }
    if (payload.templates) statements.push(this.keptStatement(payload.templates, `${token}:templates`));
    return statements.map((q) => `${q};\n`).join('');
  }

  /** A statement to run by hand: with its deduplication token, running it twice stores it once. */
  private keptStatement(statement: string, token: string): string {
    return withInsertSettings(statement, {
      insert_deduplication_token: token,
      deduplicate_blocks_in_dependent_materialized_views: 1,
    });
  }

  async start(): Promise<void> {
    const target = parseEndpoint(this.config.endpoint)!;
    const repairs = target.kind === 'embedded' ? scanStoreDeduplicationLogs(resolve(target.path)) : [];
    this.client = await openClient(this.config);
    if (target.kind === 'embedded') {
      this.rowsFiles = RowsFiles.forExporter(resolve(target.path), this.context.id);
      this.rowsFiles.prepare();
      if (repairs.length > 0) await this.repairDeduplicationLogs(repairs);
    }
    try {
      await this.ensureSchema();
    } catch (err) {
      // The server may come up after us: exports retry the schema before their insert.
      this.context.logger.warn(
        { err: (err as Error).message, endpoint: redact(this.config.endpoint) },
        'ClickHouse not ready at start; will retry',
      );
    }
  }

  /**
   * Embedded, before the first insert: a kill -9 between ClickHouse's write to a table's
   * deduplication log and the rename of the part leaves a block that was never stored but would
   * deduplicate the queue's replay of it (see deduplication-log.ts). The logs were read before chDB
   * opened the store; the blocks are forgotten with the table detached, so that ClickHouse reads
   * the log again as the table is attached.
   */
  private async repairDeduplicationLogs(repairs: StoreTableScan[]): Promise<void> {
    const client = this.client!;
    let tables: { database: string; name: string; data_paths: string[] }[];
    try {
      const result = await client.query({
        query: "SELECT database, name, data_paths FROM system.tables WHERE engine LIKE '%MergeTree'",
        format: 'JSONEachRow',
      });
      tables = await result.json();
    } catch (err) {
      this.context.logger.error(
        { err: (err as Error).message },
        'the tables of the embedded store could not be listed: ' +
          'a batch cut short by a crash may be taken for a duplicate',
      );
      return;
    }
    for (const repair of repairs) {
      const owner = tables.find((t) => t.data_paths.some((p) => resolve(p) === resolve(repair.dir)));
      if (!owner) continue;
      const name = `${owner.database}.${owner.name}`;
      try {
        if ('error' in repair) throw repair.error;
        const { scan } = repair;
        const table = `${quoteIdentifier(owner.database)}.${quoteIdentifier(owner.name)}`;
        await client.command({ query: `DETACH TABLE ${table}` });
        try {
          forgetUncommittedBlocks(scan);
        } finally {
          await client.command({ query: `ATTACH TABLE ${table}` });
        }
        this.context.logger.warn(
          { table: name, blocks: scan.uncommitted.length, torn_record: scan.tornAt !== undefined },
          'the deduplication log named blocks whose parts are not in the store (an insert cut short by a crash, ' +
            'or parts dropped since): they are forgotten, so the batches the queue replays store their rows',
        );
      } catch (err) {
        this.context.logger.error(
          { err: (err as Error).message, table: name },
          'the deduplication log could not be repaired: a batch cut short by a crash may be taken for a duplicate',
        );
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.dictionaryReload);
    this.dictionaryReload = undefined;
    await this.dictionaryReloading;
    await this.client?.close();
  }

  /**
   * chDB does not reload dictionaries on their LIFETIME as a server does, so CurrentTemplateId and
   * Template would keep the lineage and texts of start-up: after storing templates, the exporter
   * reloads both dictionaries, at most once a second.
   */
  private reloadDictionariesSoon(): void {
    if (!this.sessionSettings || this.dictionaryReload || this.stopped) return;
    const wait = Math.max(0, this.lastDictionaryReload + DICTIONARY_RELOAD_MS - Date.now());
    this.dictionaryReload = setTimeout(() => {
      this.lastDictionaryReload = Date.now();
      const reload = async () => {
        for (const suffix of ['_lineage_dict', '_text_dict'])
          await this.client!.command({ query: `SYSTEM RELOAD DICTIONARY ${this.templatesTable}${suffix}` });
      };
      this.dictionaryReloading = reload()
        .catch((err: unknown) =>
          this.context.logger.warn(
            { err: (err as Error).message },
            'the template dictionaries could not be reloaded; the next templates stored retry',
          ),
        )
        .finally(() => {
          this.dictionaryReload = undefined;
          this.dictionaryReloading = undefined;
        });
    }, wait);
    this.dictionaryReload.unref();
  }

  private async ensureSchema(): Promise<void> {
    if (this.schemaReady) return;
    const client = this.client!;
    try {
      if (this.config.create_schema) {
        for (const query of schemaStatements(this.config)) await client.command({ query });
        await this.addBodyTextIndex(client);
        await this.tuneMerges(client);
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

  private async addBodyTextIndex(client: ClickHouseClient): Promise<void> {
    const [add, dropBloom] = bodyTextIndexStatements(this.config);
    try {
      await client.command({ query: add! });
    } catch (err) {
      const error = classifyClickHouseError(err, 'adding the text index on lower(Body)');
      // Only a refusal of the index itself is kept from failing the schema; an outage retries.
      if (!(error instanceof PermanentExportError)) throw err;
      this.context.logger.warn(
        { err: error.message },
        'the ClickHouse server does not take a text index on lower(Body) (ClickHouse 26.2 and newer do): ' +
          'word search keeps the tokenbf index',
      );
      return;
    }
    // DROP INDEX is a mutation even when the index is gone: run on every start it would rewrite
    // every part of the table each time a daemon starts.
    if (await this.hasIndex(client, 'idx_lower_body')) await client.command({ query: dropBloom! });
  }

  private async hasIndex(client: ClickHouseClient, name: string): Promise<boolean> {
    const result = await client.query({
      query:
        'SELECT count() AS n FROM system.data_skipping_indices ' +
        'WHERE database = {database:String} AND table = {table:String} AND name = {name:String}',
      query_params: { database: this.config.database, table: this.config.logs_table_name, name },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ n: string | number }>();
    return Number(row?.n ?? 0) > 0;
  }

  private async tuneMerges(client: ClickHouseClient): Promise<void> {
    try {
      await client.command({ query: mergeSettingsStatement(this.config) });
      if (this.embedded) await client.command({ query: embeddedPartsStatement(this.config) });
    } catch (err) {
      const settings = this.embedded ? 'merge_selector_base and min_bytes_for_wide_part' : 'merge_selector_base';
      const error = classifyClickHouseError(err, `setting ${settings} on the logs table`);
      if (!(error instanceof PermanentExportError)) throw err;
      this.context.logger.warn(
        { err: error.message },
        `the ClickHouse store does not take ${settings}: the logs table keeps its defaults`,
      );
    }
  }

  get storeTables(): LogStoreTables {
    return {
      database: this.config.database,
      logs: this.config.logs_table_name,
      templates: this.config.templates_table_name,
    };
  }

  private get embedded(): boolean {
    return parseEndpoint(this.config.endpoint)!.kind === 'embedded';
  }

  /** chDB applies a query's settings with SET on its session, where they stay. */
  get sessionSettings(): boolean {
    return this.embedded;
  }

  /**
   * A client for reads, of its own: a server's, or a second chDB session on the store this
   * process holds (the lock allows no other process). Only once the exporter has opened the store,
   * so a reader never creates one.
   */
  async openReader(database?: string): Promise<ClickHouseClient> {
    if (!this.client) throw new StoreUnavailableError(`the store of ${this.context.id} is not open yet`);
    return openClient(this.config, database);
  }

  /** The current templates: most recently seen first, without the ones a generalisation replaced. */
  async loadTemplates(limit: number): Promise<StoredTemplate[]> {
    await this.ensureSchema();
    const result = await this.client!.query({
      query: currentTemplatesQuery(this.templatesTable),
      query_params: { limit },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ id: string; text: string; services: string[]; count: string; source: string }>();
    return rows.map((r) => ({
      id: BigInt(r.id),
      text: r.text,
      services: r.services,
      count: Number(r.count),
      source: r.source === 'llm' ? 'llm' : 'miner',
    }));
  }

  /** Stores templates no record carried yet; its token makes a repeated call store them once. */
  async saveTemplates(templates: NewTemplate[]): Promise<void> {
    if (templates.length === 0) return;
    const query = encodeNewTemplatesInsert(templates, this.templatesTable, BigInt(Date.now()) * 1_000_000n);
    await this.insert(
      query,
      `storing ${templates.length} new templates`,
      `templates:${templates.map((t) => t.template.id).join(',')}`,
    );
    this.reloadDictionariesSoon();
  }

  /**
   * Runs an INSERT with its deduplication token. With `body`, the query is sent at the start of
   * the body the values make, which the query begins (so it is not in the URL, whatever its size).
   */
  private async insert(
    query: string,
    what: string,
    token: string,
    body?: { values: Readable; http_headers: Record<string, string> },
  ): Promise<void> {
    await this.ensureSchema();
    try {
      const result = await this.client!.exec({
        query: body ? '' : query,
        ...body,
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
        this.context.logger.warn(
          { err: classified.message },
          this.config.create_schema
            ? 'a table is missing; it is created again before the retry'
            : 'a table is missing (create_schema: false); retrying until it exists',
        );
      }
      throw classified;
    }
  }
}

/** Where the line `n` lines after offset `from` starts. */
function lineStart(lines: Buffer, from: number, n: number): number {
  let at = from;
  for (let i = 0; i < n; i++) at = lines.indexOf(0x0a, at) + 1;
  return at;
}

/** Adds a refused range, joined to the previous one when they touch: one statement per run. */
function refuse(refused: RefusedRange[], range: RefusedRange): void {
  const last = refused.at(-1);
  if (last && last.end === range.start) {
    last.end = range.end;
    last.records += range.records;
    if (last.errors.length < 3 && !last.errors.includes(range.errors[0]!)) last.errors.push(range.errors[0]!);
    return;
  }
  refused.push(range);
}

interface InsertPayload {
  logs: LogsInsert | undefined;
  /** A logs statement queued on disk by a version before parts: sent as it is. */
  legacyLogs?: string;
  templates: string | undefined;
}

/**
 * On disk: 0xFFFFFFFE; resources, scopes and templates ('' when none), each a u32 byte length and
 * UTF-8; the number of parts; each part as u32 rows, u32 bytes uncompressed, u32 length and its
 * zstd frame. Older queues still decode: 0xFFFFFFFF, the number of strings, then each string as
 * a u32 byte length and UTF-8 (resources, scopes, templates, then the parts as lines); before
 * that, the byte length of one logs statement, then the templates statement.
 */
const ZSTD_PARTS_FORMAT = 0xfffffffe;
const PARTS_FORMAT = 0xffffffff;

const insertPayloadCodec: PayloadCodec<InsertPayload> = {
  encode(p) {
    const { resources, scopes, parts } = p.logs!;
    const strings = [resources, scopes, p.templates ?? ''];
    const lengths = strings.map((x) => Buffer.byteLength(x));
    let size = 4 + 12 + lengths.reduce((a, b) => a + b, 0) + 4;
    for (const part of parts) size += 12 + part.zstd.length;
    const out = Buffer.allocUnsafe(size);
    out.writeUInt32LE(ZSTD_PARTS_FORMAT, 0);
    let at = 4;
    strings.forEach((x, i) => {
      out.writeUInt32LE(lengths[i]!, at);
      at += 4 + out.write(x, at + 4);
    });
    out.writeUInt32LE(parts.length, at);
    at += 4;
    for (const part of parts) {
      out.writeUInt32LE(part.rows, at);
      out.writeUInt32LE(part.bytes, at + 4);
      out.writeUInt32LE(part.zstd.length, at + 8);
      at += 12 + part.zstd.copy(out, at + 12);
    }
    return out;
  },
  decode(bytes) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const format = buf.readUInt32LE(0);
    if (format === ZSTD_PARTS_FORMAT) {
      let at = 4;
      const text = () => {
        const length = buf.readUInt32LE(at);
        at += 4 + length;
        return buf.toString('utf8', at - length, at);
      };
      const [resources, scopes, templates] = [text(), text(), text()];
      const parts: RowsPart[] = [];
      for (let i = buf.readUInt32LE(at), p = at + 4; i > 0; i--) {
        const length = buf.readUInt32LE(p + 8);
        parts.push({
          rows: buf.readUInt32LE(p),
          bytes: buf.readUInt32LE(p + 4),
          zstd: buf.subarray(p + 12, p + 12 + length),
        });
        p += 12 + length;
      }
      return { logs: { resources, scopes, parts }, templates: templates || undefined };
    }
    if (format !== PARTS_FORMAT) {
      const end = 4 + buf.readUInt32LE(0);
      return {
        logs: undefined,
        legacyLogs: buf.toString('utf8', 4, end),
        templates: end < buf.length ? buf.toString('utf8', end) : undefined,
      };
    }
    const strings: Buffer[] = [];
    let at = 8;
    for (let i = buf.readUInt32LE(4); i > 0; i--) {
      const length = buf.readUInt32LE(at);
      strings.push(buf.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    const [resources, scopes, templates, ...lines] = strings;
    return {
      logs: {
        resources: resources?.toString() ?? '[]',
        scopes: scopes?.toString() ?? '[]',
        parts: lines.map((l) => rowsPart(l, countLines(l))),
      },
      templates: templates?.toString() || undefined,
    };
  },
  byteLength: (p) =>
    (p.logs
      ? p.logs.resources.length + p.logs.scopes.length + p.logs.parts.reduce((n, x) => n + x.zstd.length, 0)
      : (p.legacyLogs?.length ?? 0)) + (p.templates?.length ?? 0),
};

function countLines(lines: Buffer): number {
  let n = 0;
  for (let at = lines.indexOf(0x0a); at >= 0; at = lines.indexOf(0x0a, at + 1)) n++;
  return n;
}

function redact(endpoint: string): string {
  return endpoint.replace(/\/\/[^@/]*@/, '//***@');
}
