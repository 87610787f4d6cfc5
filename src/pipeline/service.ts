import { deserialize, serialize } from 'node:v8';
import type { Logger } from 'pino';
import type { PipelineConfig, ResolvedComponent, ServiceConfig } from '../config/loader.js';
import type { Telemetry } from '../telemetry/metrics.js';
import {
  isTemplateStore,
  type Component,
  type TemplateStore,
  type WorkerIdentity,
  type ComponentContext,
  type ComponentHealth,
  type Exporter,
  type Extension,
  type Host,
  type Processor,
  type Receiver,
} from './component.js';
import type { LogsConsumer } from './consumer.js';
import { errorMessage } from './errors.js';
import { fanOut } from './fanout.js';
import { isLogStore, type ExportObserver, type WorkerPeers, type LogStore } from './host.js';
import type { LogBatch } from './model.js';

/** `sending_queue.storage`, as the OTel Collector's exporterhelper spells a persistent queue. */
function hasPersistentQueue(exporterConfig: unknown): boolean {
  const queue = (exporterConfig as { sending_queue?: { enabled?: boolean; storage?: unknown } } | undefined)
    ?.sending_queue;
  return queue !== undefined && queue.enabled !== false && typeof queue.storage === 'string';
}

export type ServiceState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

interface Built<T extends Component> {
  id: string;
  component: T;
}

/**
 * Builds the component graph from a validated config and runs it: exporters are shared by the
 * pipelines that name them, processors are created per pipeline, and a receiver named by several
 * pipelines fans out to all of them. Starts exporters → processors → receivers and shuts down the
 * other way round, so everything a receiver acknowledged flows out before the exporters stop.
 * Extensions (authenticators) start before everything and stop after.
 */
export class Service {
  state: ServiceState = 'created';
  readonly extensions: Built<Extension>[] = [];
  readonly receivers: Built<Receiver>[] = [];
  readonly processors: Built<Processor>[] = [];
  readonly exporters: Built<Exporter>[] = [];
  private readonly started: Component[] = [];
  private readonly startedAt = Date.now();
  /** Observers of the batches handed to each exporter, by exporter id (the console's tail). */
  private readonly exportObservers = new Map<string, Set<ExportObserver>>();
  private readonly extensionById = new Map<string, Extension>();
  private readonly exporterById = new Map<string, Exporter>();
  /** Configurations that can lose acknowledged data, logged when the service starts. */
  private readonly startWarnings: Array<{ fields: Record<string, unknown>; message: string }> = [];

  constructor(
    readonly config: ServiceConfig,
    private readonly logger: Logger,
    readonly telemetry: Telemetry,
    private readonly worker: WorkerIdentity = { index: 0, count: 1 },
    private readonly peers?: WorkerPeers,
  ) {
    const extensionById = this.extensionById;
    for (const [id, r] of config.extensions) {
      if (r.factory.kind !== 'extension') continue;
      const extension = r.factory.create(r.config, { ...this.context(r), host: this.host() });
      extensionById.set(id, extension);
      this.extensions.push({ id, component: extension });
    }
    const exporterById = this.exporterById;
    for (const p of config.pipelines) {
      for (const id of p.exporters) {
        if (exporterById.has(id)) continue;
        const r = config.exporters.get(id)!;
        if (r.factory.kind !== 'exporter') continue;
        const exporter = r.factory.create(r.config, this.context(r));
        exporterById.set(id, exporter);
        this.exporters.push({ id, component: exporter });
      }
    }
    const entries = new Map<string, LogsConsumer[]>();
    for (const p of config.pipelines) {
      const entry = this.buildPipeline(p, exporterById);
      for (const id of p.receivers) entries.set(id, [...(entries.get(id) ?? []), entry]);
    }
    for (const [id, consumers] of entries) {
      const r = config.receivers.get(id)!;
      if (r.factory.kind !== 'receiver') continue;
      this.receivers.push({
        id,
        component: r.factory.create(r.config, { ...this.context(r), extensions: extensionById }, fanOut(consumers)),
      });
    }
  }

  private buildPipeline(p: PipelineConfig, exporters: Map<string, Exporter>): LogsConsumer {
    let next: LogsConsumer = fanOut(p.exporters.map((id) => this.observed(id, exporters.get(id)!)));
    const built: Built<Processor>[] = [];
    for (const id of [...p.processors].reverse()) {
      const r = this.config.processors.get(id)!;
      if (r.factory.kind !== 'processor') continue;
      const stores = p.exporters
        .map((e) => exporters.get(e)!)
        .filter((e): e is Exporter & TemplateStore => isTemplateStore(e));
      const processor = r.factory.create(
        this.processorConfig(r, p),
        { ...this.context(r, p.id), templateStores: stores },
        next,
      );
      built.unshift({ id: `${p.id}/${id}`, component: processor });
      next = processor;
    }
    this.processors.push(...built);
    return next;
  }

  /**
   * A processor's config in one pipeline. A batch processor in front of a persistent sending
   * queue waits for the queue write before it answers (wait_for_flush: true) unless its config
   * says otherwise: whoever configures a disk queue expects an acknowledged record to survive a
   * crash, and with the batch processor's own default (false) it sits in memory for up to
   * `timeout` after the client was told it was accepted. The same processor id in a pipeline
   * without a disk queue keeps the default.
   */
  private processorConfig(r: ResolvedComponent, p: PipelineConfig): unknown {
    if (r.type !== 'batch') return r.config;
    const persistent = p.exporters.filter((id) => hasPersistentQueue(this.config.exporters.get(id)?.config));
    if (persistent.length === 0) return r.config;
    if (!('wait_for_flush' in r.raw)) return r.factory.configSchema.parse({ ...r.raw, wait_for_flush: true });
    if (r.raw.wait_for_flush === false) {
      this.startWarnings.push({
        fields: { component: r.id, pipeline: p.id, exporters: persistent },
        message:
          'batch processor with wait_for_flush: false in front of a persistent ' +
          'sending queue: requests are acknowledged before their records reach ' +
          'the disk queue, and acknowledged records may be lost on a crash',
      });
    }
    return r.config;
  }

  /** The exporter as a pipeline hands it batches, seen by the observers of its id while it has any. */
  private observed(id: string, exporter: Exporter): LogsConsumer {
    const observers = this.exportObservers;
    const peers = this.peers;
    const logger = this.logger;
    return {
      async consume(batch) {
        const set = observers.get(id);
        // Serialized before the exporter owns the batch; sent once it accepted it.
        let forward: Uint8Array | undefined;
        if (peers?.wanted(id)) {
          try {
            forward = serialize(batch);
          } catch (err) {
            logger.warn({ err: errorMessage(err), exporter: id }, 'a batch cannot be shown to the other workers');
          }
        }
        if ((!set || set.size === 0) && !forward) return exporter.consume(batch);
        const accepted = set ? [...set].map((o) => o.beforeExport(batch)) : [];
        return exporter.consume(batch).then(() => {
          for (const done of accepted) done?.();
          if (forward) peers!.forward(id, forward);
        });
      },
    };
  }

  /** A batch another worker's exporter of this id accepted, for this process's observers. */
  deliverExported(exporterId: string, bytes: Uint8Array): void {
    const set = this.exportObservers.get(exporterId);
    if (!set || set.size === 0) return;
    const batch = deserialize(bytes) as LogBatch;
    for (const o of set) o.beforeExport(batch)?.();
  }

  private host(): Host {
    const stores = (): Map<string, LogStore> => {
      const out = new Map<string, LogStore>();
      for (const [id, e] of this.exporterById) if (isLogStore(e)) out.set(id, e);
      return out;
    };
    return {
      extensions: () => this.extensionById,
      exporters: () => this.exporterById,
      logStores: stores,
      observeExports: (exporterId, observer) => {
        let set = this.exportObservers.get(exporterId);
        if (!set) this.exportObservers.set(exporterId, (set = new Set()));
        set.add(observer);
        if (set.size === 1) this.peers?.interest(exporterId, true);
        return () => {
          if (set.delete(observer) && set.size === 0) this.peers?.interest(exporterId, false);
        };
      },
      stats: () => (this.peers ? this.peers.serviceStats() : Promise.resolve(this.stats())),
    };
  }

  private context(r: ResolvedComponent, pipeline?: string): ComponentContext {
    const logger = this.logger.child(
      pipeline ? { component: r.id, kind: r.kind, pipeline } : { component: r.id, kind: r.kind },
    );
    const context: ComponentContext = {
      id: r.id,
      kind: r.kind,
      logger,
      telemetry: this.telemetry.forComponent(r.kind, r.id),
      worker: this.worker,
    };
    if (r.kind === 'exporter') context.exporterIds = [...new Set(this.config.pipelines.flatMap((p) => p.exporters))];
    return context;
  }

  async start(): Promise<void> {
    this.state = 'starting';
    for (const w of this.startWarnings) this.logger.warn(w.fields, w.message);
    try {
      for (const group of [this.extensions, this.exporters, this.processors, this.receivers]) {
        for (const { id, component } of group) {
          try {
            await component.start();
          } catch (err) {
            throw new Error(`${id} failed to start: ${errorMessage(err)}`, { cause: err });
          }
          this.started.push(component);
        }
      }
    } catch (err) {
      this.state = 'failed';
      await this.stopStarted(Date.now() + 5000);
      throw err;
    }
    this.state = 'running';
  }

  /** Drains in order within the deadline: receivers stop taking data, processors flush, exporters flush. */
  async shutdown(deadline: number): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    for (const { component } of this.exporters) component.prepareShutdown?.(deadline);
    await this.stopStarted(deadline);
    this.state = 'stopped';
  }

  private async stopStarted(deadline: number): Promise<void> {
    for (const group of [this.receivers, this.processors, this.exporters, this.extensions]) {
      for (const { id, component } of group) {
        if (!this.started.includes(component)) continue;
        try {
          await component.shutdown(deadline);
        } catch (err) {
          this.logger.error({ component: id, err: errorMessage(err) }, 'component failed to shut down cleanly');
        }
      }
    }
    this.started.length = 0;
  }

  health(): {
    status: string;
    state: ServiceState;
    clickhouse_connected: boolean | null;
    templates_loaded: number;
    components: Record<string, ComponentHealth>;
  } {
    const components: Record<string, ComponentHealth> = {};
    let clickhouse: boolean | null = null;
    let worst: ComponentHealth['status'] = 'ok';
    let templates = 0;
    for (const group of [this.receivers, this.processors, this.exporters]) {
      for (const { id, component } of group) {
        const h = component.health?.() ?? { status: 'ok' };
        components[id] = h;
        if (typeof h.templates_loaded === 'number') templates += h.templates_loaded;
        if (typeof h.clickhouse_connected === 'boolean') clickhouse = (clickhouse ?? true) && h.clickhouse_connected;
        if (h.status === 'down' || (h.status === 'degraded' && worst === 'ok')) worst = h.status;
      }
    }
    const status = this.state === 'running' ? worst : this.state;
    return { status, state: this.state, clickhouse_connected: clickhouse, templates_loaded: templates, components };
  }

  stats(): Record<string, unknown> {
    return {
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      state: this.state,
      pipelines: this.config.pipelines.map((p) => p.id),
      templates_loaded: this.health().templates_loaded,
      ...this.telemetry.stats(),
    };
  }
}
