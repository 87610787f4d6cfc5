import type { ClickHouseClient } from '@clickhouse/client';
import type { LogBatch } from './model.js';

/** Where an exporter that stores logs keeps them, for readers (the console, the query CLI). */
export interface LogStoreTables {
  database: string;
  /** The logs table (otel_logs). */
  logs: string;
  /** The templates table (log_templates); `<templates>_hourly`, `_lineage_dict`, `_text_dict` beside it. */
  templates: string;
}

/**
 * Offered by exporters that store logs where they can be read back (clickhouse). A reader gets a
 * client of its own, so the settings of its queries never reach the exporter's inserts: chDB
 * applies a query's settings with SET on the session, where they stay.
 */
export interface LogStore {
  readonly tables: LogStoreTables;
  /**
   * true when settings given with a query persist on the client afterwards (chDB's session): a
   * reader that lets requests choose settings opens one client per request.
   */
  readonly sessionSettings: boolean;
  /**
   * A new client for reads (its current database: `database`, else the server's default); throws
   * StoreUnavailableError while the store is not open.
   */
  openReader(database?: string): Promise<ClickHouseClient>;
}

export function isLogStore(x: object): x is LogStore {
  return (
    typeof (x as Partial<LogStore>).openReader === 'function' && typeof (x as Partial<LogStore>).tables === 'object'
  );
}

/** The store cannot be read now (its exporter has not started, or its server is away). */
export class StoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * Sees the batches an exporter is handed. `beforeExport` runs synchronously before the exporter
 * takes the batch (which then owns it: it must not be kept or changed); the function it returns,
 * if any, runs once the exporter accepted the batch, and not when it refused it.
 */
export interface ExportObserver {
  beforeExport(batch: LogBatch): (() => void) | undefined;
}

/**
 * The other processes of service.workers, as a worker's service sees them. The console's tail is
 * served by whichever worker took its connection, so the batches an exporter accepted travel to
 * the observers of the same exporter in the other workers, and only while some observe; the
 * console's stats are the whole service's, which the primary process sums.
 */
export interface WorkerPeers {
  /** Whether observers of this exporter exist in another process. */
  wanted(exporterId: string): boolean;
  /** This process's observers of the exporter appeared (true) or are all gone (false). */
  interest(exporterId: string, observed: boolean): void;
  /** A batch the exporter accepted, serialized (v8.serialize), for the other processes' observers. */
  forward(exporterId: string, batch: Uint8Array): void;
  /** The whole service's /stats. */
  serviceStats(): Promise<Record<string, unknown>>;
}
