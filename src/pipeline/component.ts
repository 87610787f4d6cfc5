import type { Logger } from 'pino';
import type { z } from 'zod';
import type { LogsConsumer } from './consumer.js';
import type { ExportObserver, LogStore } from './host.js';
import type { TemplateRef, TemplateSource } from './model.js';
import type { ComponentTelemetry } from '../telemetry/metrics.js';
import type { ComponentKind } from './component-kind.js';

/** What a component reports on /health. */
export interface ComponentHealth {
  /** ok: working; degraded: working but a dependency is failing (exports being retried); down: not working. */
  status: 'ok' | 'degraded' | 'down';
  detail?: string;
  [extra: string]: unknown;
}

export interface Component {
  start(): Promise<void>;
  /** Stops taking new work and finishes what was accepted, within the deadline (epoch ms). */
  shutdown(deadline: number): Promise<void>;
  health?(): ComponentHealth;
}

export interface Receiver extends Component {}
export interface Processor extends Component, LogsConsumer {}
export interface Exporter extends Component, LogsConsumer {
  /**
   * Called when the service begins to shut down, before the receivers and processors stop: what
   * the processors flush from then on should be accepted (persisted or exported), not refused,
   * and nothing should be waited for past the deadline (epoch ms).
   */
  prepareShutdown?(deadline: number): void;
}
/** A component outside the pipelines that others use by id (an authenticator), as in the OTel Collector. */
export interface Extension extends Component {}

/** A template as stored by an exporter and loaded by the templates processor at start-up. */
export interface StoredTemplate {
  id: bigint;
  text: string;
  /** service.name values it was seen with. */
  services: string[];
  count: number;
  source: TemplateSource;
}

/** A template that no record carried yet (an LLM's), to store with its lineage. */
export interface NewTemplate {
  template: TemplateRef;
  sample: string;
  services: string[];
}

/** Offered by exporters that store templates (clickhouse), to processors of their pipelines. */
export interface TemplateStore {
  /** The current templates (not the ones replaced by a generalisation), most recently seen first. */
  loadTemplates(limit: number): Promise<StoredTemplate[]>;
  /** Stores templates made outside the record flow, so they and the ids they replaced persist at once. */
  saveTemplates(templates: NewTemplate[]): Promise<void>;
}

export function isTemplateStore(x: object): x is TemplateStore {
  return (
    typeof (x as Partial<TemplateStore>).loadTemplates === 'function' &&
    typeof (x as Partial<TemplateStore>).saveTemplates === 'function'
  );
}

/** Which of the service.workers processes runs the component: index 0 to count - 1. */
export interface WorkerIdentity {
  index: number;
  count: number;
}

export interface ComponentContext {
  /** The instance id as written in the config: `type` or `type/name`. */
  id: string;
  kind: ComponentKind;
  /**
   * Components that own something every worker process would otherwise share (a queue directory,
   * a memory budget) take their part of it by this. Absent: the only process (index 0 of 1).
   */
  worker?: WorkerIdentity;
  logger: Logger;
  telemetry: ComponentTelemetry;
  /** For processors: the exporters of their pipeline that store templates. */
  templateStores?: TemplateStore[];
  /** For exporters: the ids of every exporter the pipelines use (whose disk queue directories are in use). */
  exporterIds?: readonly string[];
  /** For receivers: the extensions listed in service.extensions, by id (started before them). */
  extensions?: ReadonlyMap<string, Extension>;
  /** For extensions: the running service (other extensions, the stores, the export flow). */
  host?: Host;
}

interface FactoryBase<S extends z.ZodType> {
  type: string;
  /** Validates one instance's config, fills in defaults and rejects unknown keys. */
  configSchema: S;
  /**
   * Why an instance with this config cannot run in several worker processes (service.workers > 1),
   * e.g. a store only one process may open; undefined when it can.
   */
  singleProcess?(config: z.output<S>): string | undefined;
}

export interface ReceiverFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  kind: 'receiver';
  create(config: z.output<S>, context: ComponentContext, next: LogsConsumer): Receiver;
}

export interface ProcessorFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  kind: 'processor';
  create(config: z.output<S>, context: ComponentContext, next: LogsConsumer): Processor;
}

export interface ExporterFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  kind: 'exporter';
  create(config: z.output<S>, context: ComponentContext): Exporter;
}

export interface ExtensionFactory<S extends z.ZodType = z.ZodType> extends FactoryBase<S> {
  kind: 'extension';
  create(config: z.output<S>, context: ComponentContext): Extension;
}

export type AnyFactory = ReceiverFactory | ProcessorFactory | ExporterFactory | ExtensionFactory;

/**
 * What the service offers the extensions, as the OTel Collector's component.Host does
 * (GetExtensions), plus what the console needs: the stores, the export flow and the stats. Every
 * method reads the running service, so it is called from start() on, not in a constructor.
 */
export interface Host {
  extensions(): ReadonlyMap<string, Extension>;
  exporters(): ReadonlyMap<string, Exporter>;
  /** The exporters that store logs readers can query, by id. */
  logStores(): ReadonlyMap<string, LogStore>;
  /** Calls the observer for every batch handed to the exporter; returns the function that stops it. */
  observeExports(exporterId: string, observer: ExportObserver): () => void;
  /** What the telemetry endpoint's /stats serves (the whole service's, with service.workers). */
  stats(): Promise<Record<string, unknown>>;
}
