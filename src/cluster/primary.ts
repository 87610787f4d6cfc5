import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { ServiceConfig } from '../config/loader.js';
import { errorMessage } from '../pipeline/errors.js';
import { TelemetryServer, type TelemetryView } from '../telemetry/server.js';
import { combineHealth, sumStats, type WorkerHealth } from './aggregate.js';
import {
  isMessage,
  WORKER_COUNT_ENV,
  WORKER_INDEX_ENV,
  type PrimaryMessage,
  type TelemetryQuery,
  type WorkerMessage,
} from './messages.js';

/** A worker that has not answered a telemetry query by then is shown as not answering. */
const QUERY_TIMEOUT_MS = 2000;
/** A worker that dies sooner than this after its start is started again after a growing pause. */
const HEALTHY_RUN_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** After the workers' own shutdown_timeout, how long the primary waits before it kills them. */
const EXIT_GRACE_MS = 5000;

interface Slot {
  index: number;
  worker: Worker | undefined;
  ready: boolean;
  startedAt: number;
  /** Quick deaths in a row, for the restart pause. */
  quickDeaths: number;
  restartTimer: NodeJS.Timeout | undefined;
  exited: Promise<number>;
}

type Phase = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/**
 * The primary process of service.workers > 1: starts the pipeline workers (node:cluster processes
 * that share the receivers' listening sockets), starts a worker again with the same index (and so
 * the same disk queue) when it dies, serves /health, /stats and /metrics for all of them, and on
 * SIGTERM has every worker drain. Resolves with the exit code.
 */
export class WorkerSupervisor {
  private readonly slots: Slot[] = [];
  private phase: Phase = 'starting';
  private nextQuery = 0;
  private readonly pending = new Map<number, (answer: { body?: unknown; error?: string }) => void>();
  private readonly telemetryServer: TelemetryServer;
  private readonly telemetryView = this.view();
  private readonly startedAt = Date.now();
  /** The primary's own instruments, shown after the workers' aggregated ones. */
  private readonly registry = new Registry();
  private readonly workersRunning = new Gauge({
    name: 'otelhouse_service_workers_running',
    help: 'Pipeline worker processes running (service.workers of them when all are).',
    registers: [this.registry],
  });
  private readonly workerRestarts = new Counter({
    name: 'otelhouse_service_worker_restarts_total',
    help: 'Pipeline worker processes that died and were started again, by worker index.',
    labelNames: ['worker'],
    registers: [this.registry],
  });
  /** The workers with observers of each exporter's batches (console tails), by exporter id. */
  private readonly tailing = new Map<string, Set<number>>();

  constructor(
    private readonly config: ServiceConfig,
    private readonly logger: Logger,
  ) {
    this.telemetryServer = new TelemetryServer(config.telemetry.metrics.address, this.telemetryView, logger);
    // Tail batches carry Uint8Arrays: the advanced serialization sends them as bytes, not JSON arrays.
    cluster.setupPrimary({ serialization: 'advanced' });
  }

  get telemetryPort(): number {
    return this.telemetryServer.port;
  }

  /** Starts the first worker (which creates or upgrades the schema alone), then the others. */
  async start(): Promise<void> {
    await this.telemetryServer.start();
    try {
      for (let i = 0; i < this.config.workers; i++) this.slots.push(this.emptySlot(i));
      await this.fork(this.slots[0]!);
      await Promise.all(this.slots.slice(1).map((s) => this.fork(s)));
    } catch (err) {
      this.phase = 'failed';
      await this.stop();
      throw err;
    }
    this.phase = 'running';
    this.logger.info(
      { workers: this.config.workers, pids: this.slots.map((s) => s.worker?.process.pid) },
      'otelhouse is running',
    );
  }

  /** Has every worker drain; resolves with 0 when all of them exited cleanly. */
  async stop(): Promise<number> {
    if (this.phase !== 'failed') this.phase = 'stopping';
    for (const s of this.slots) clearTimeout(s.restartTimer);
    this.sendAll({ type: 'otelhouse:shutdown' });
    const killer = setTimeout(() => {
      for (const s of this.slots) s.worker?.process.kill('SIGKILL');
    }, this.config.shutdownTimeoutMs + EXIT_GRACE_MS);
    const codes = await Promise.all(this.slots.map((s) => s.exited));
    clearTimeout(killer);
    await this.telemetryServer.close();
    if (this.phase === 'stopping') this.phase = 'stopped';
    return codes.every((c) => c === 0) ? 0 : 1;
  }

  /** The second signal: the workers exit without finishing their drain. */
  exitNow(): void {
    this.sendAll({ type: 'otelhouse:exit-now' });
  }

  private emptySlot(index: number): Slot {
    return {
      index,
      worker: undefined,
      ready: false,
      startedAt: 0,
      quickDeaths: 0,
      restartTimer: undefined,
      exited: Promise.resolve(0),
    };
  }

  /** Starts the slot's worker; resolves once it is running, rejects if it exits first. */
  private fork(slot: Slot): Promise<void> {
    const worker = cluster.fork({
      [WORKER_INDEX_ENV]: String(slot.index),
      [WORKER_COUNT_ENV]: String(this.config.workers),
    });
    slot.worker = worker;
    slot.ready = false;
    slot.startedAt = Date.now();
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: unknown) => {
        if (!isMessage<WorkerMessage>(m)) return;
        if (m.type === 'otelhouse:ready') {
          slot.ready = true;
          for (const id of this.tailing.keys()) this.tellWanted(slot, id);
          resolve();
        } else if (m.type === 'otelhouse:service-stats-request') {
          void this.telemetryView.stats().then((body) => {
            if (worker.isConnected())
              worker.send({ type: 'otelhouse:service-stats', id: m.id, body } satisfies PrimaryMessage);
          });
        } else if (m.type === 'otelhouse:tail-interest') {
          this.tail(slot.index, m.exporterId, m.observed);
        } else if (m.type === 'otelhouse:tail-batch') {
          for (const index of this.tailing.get(m.exporterId) ?? []) {
            const to = this.slots[index]!;
            if (index !== slot.index && to.ready && to.worker?.isConnected())
              to.worker.send(m satisfies PrimaryMessage);
          }
        } else if (m.type === 'otelhouse:answer') {
          const answer = this.pending.get(m.id);
          this.pending.delete(m.id);
          answer?.(m);
        }
      });
      slot.exited = new Promise<number>((exited) => {
        worker.on('exit', (code, signal) => {
          const wasReady = slot.ready;
          slot.ready = false;
          slot.worker = undefined;
          for (const id of this.tailing.keys()) this.tail(slot.index, id, false);
          exited(code ?? 1);
          if (!wasReady) reject(new Error(`worker ${slot.index} exited while starting (${signal ?? `code ${code}`})`));
          if (this.phase === 'running') this.restart(slot, code, signal);
        });
      });
    });
  }

  private tail(index: number, exporterId: string, observed: boolean): void {
    let set = this.tailing.get(exporterId);
    if (!set) this.tailing.set(exporterId, (set = new Set()));
    if (observed === set.has(index)) return;
    if (observed) set.add(index);
    else set.delete(index);
    for (const s of this.slots) if (s.ready) this.tellWanted(s, exporterId);
  }

  /** Tells a worker whether another worker observes the exporter's batches. */
  private tellWanted(slot: Slot, exporterId: string): void {
    const wanted = [...(this.tailing.get(exporterId) ?? [])].some((i) => i !== slot.index);
    if (slot.worker?.isConnected())
      slot.worker.send({ type: 'otelhouse:tail-wanted', exporterId, wanted } satisfies PrimaryMessage);
  }

  private restart(slot: Slot, code: number | null, signal: string | null): void {
    this.workerRestarts.inc({ worker: String(slot.index) });
    slot.quickDeaths = Date.now() - slot.startedAt < HEALTHY_RUN_MS ? slot.quickDeaths + 1 : 0;
    const delay = slot.quickDeaths === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** slot.quickDeaths);
    this.logger.error(
      { worker: slot.index, code, signal, restart_in_ms: delay },
      'a worker process died; starting it again (it replays its disk queue)',
    );
    slot.restartTimer = setTimeout(() => {
      if (this.phase !== 'running') return;
      this.fork(slot).catch((err: unknown) =>
        this.logger.error({ err: errorMessage(err) }, 'restarting a worker failed'),
      );
    }, delay);
  }

  private sendAll(message: PrimaryMessage): void {
    for (const s of this.slots) if (s.worker?.isConnected()) s.worker.send(message);
  }

  private query(slot: Slot, query: TelemetryQuery): Promise<{ body?: unknown; error?: string }> {
    const worker = slot.worker;
    if (!worker || !slot.ready || !worker.isConnected()) return Promise.resolve({ error: 'not running' });
    const id = this.nextQuery++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ error: `did not answer within ${QUERY_TIMEOUT_MS} ms` });
      }, QUERY_TIMEOUT_MS);
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      worker.send({ type: 'otelhouse:query', id, query } satisfies PrimaryMessage);
    });
  }

  private async queryAll(query: TelemetryQuery) {
    return Promise.all(this.slots.map(async (s) => ({ slot: s, answer: await this.query(s, query) })));
  }

  private view(): TelemetryView {
    return {
      health: async () => {
        const answers = await this.queryAll('health');
        const workers: WorkerHealth[] = answers.map(({ slot, answer }) => ({
          index: slot.index,
          pid: slot.worker?.process.pid,
          ...(answer.body !== undefined
            ? { health: answer.body as WorkerHealth['health'] }
            : { problem: answer.error }),
        }));
        return combineHealth(this.phase, workers);
      },
      stats: async () => {
        const answers = await this.queryAll('stats');
        const parts = answers.flatMap(({ answer }) =>
          answer.body === undefined ? [] : [answer.body as Record<string, unknown>],
        );
        return {
          ...sumStats(parts),
          uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
          state: this.phase,
          workers: this.config.workers,
          workers_running: parts.length,
          // How the connections spread over the workers.
          by_worker: answers.map(({ slot, answer }) => ({
            index: slot.index,
            pid: slot.worker?.process.pid,
            receivers: (answer.body as { receivers?: unknown } | undefined)?.receivers ?? null,
          })),
        };
      },
      metrics: async () => {
        const answers = await this.queryAll('metrics');
        const parts = answers.flatMap(({ answer }) => (answer.body === undefined ? [] : [answer.body as object]));
        this.workersRunning.set(this.slots.filter((s) => s.ready).length);
        return (await AggregatorRegistry.aggregate(parts).metrics()) + (await this.registry.metrics());
      },
      metricsContentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE,
    };
  }
}
