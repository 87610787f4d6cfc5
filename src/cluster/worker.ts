import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/loader.js';
import { startWorkerService } from '../daemon.js';
import { errorMessage } from '../pipeline/errors.js';
import type { WorkerPeers } from '../pipeline/host.js';
import type { Service } from '../pipeline/service.js';
import {
  isMessage,
  WORKER_COUNT_ENV,
  WORKER_INDEX_ENV,
  type PrimaryMessage,
  type TelemetryQuery,
  type WorkerMessage,
} from './messages.js';

const EXIT_FAILURE = 1;

function send(message: WorkerMessage): void {
  if (process.connected) process.send!(message);
}

/** Which worker this process is, as the primary set it in the environment. */
export function workerIdentity(env: NodeJS.ProcessEnv = process.env): { index: number; count: number } {
  const index = Number(env[WORKER_INDEX_ENV]);
  const count = Number(env[WORKER_COUNT_ENV]);
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count)
    throw new Error(`a worker process needs ${WORKER_INDEX_ENV} and ${WORKER_COUNT_ENV} (got ${index}, ${count})`);
  return { index, count };
}

/**
 * A pipeline worker (a process of node:cluster started by the primary): runs the whole pipeline,
 * answers the primary's telemetry queries, and drains on the primary's shutdown message, on a
 * signal of its own (Ctrl-C reaches every process of the group), or when the primary is gone;
 * asked while it is still starting, it drains as soon as it runs. Resolves with the exit code.
 */
export async function runWorker(config: ServiceConfig, logger: Logger): Promise<number> {
  const worker = workerIdentity();
  const wantedElsewhere = new Set<string>();
  const statsAsked = new Map<number, (stats: Record<string, unknown>) => void>();
  let nextStats = 0;
  let service: Service | undefined;
  let stopAsked: string | undefined;
  let exitNow: (() => void) | undefined;
  let drain = (why: string) => void (stopAsked ??= why);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals === 1) return drain(signal);
    logger.warn({ signal }, 'second signal: exiting without finishing the drain');
    exitNow?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('disconnect', () => drain('the primary process is gone'));
  process.on('message', (m: unknown) => {
    if (!isMessage<PrimaryMessage>(m)) return;
    switch (m.type) {
      case 'otelhouse:shutdown':
        return drain('asked by the primary process');
      case 'otelhouse:exit-now':
        logger.warn('exiting without finishing the drain, as the primary process was told');
        return exitNow?.();
      case 'otelhouse:query':
        if (service) answer(service, m.id, m.query);
        return;
      case 'otelhouse:tail-wanted':
        if (m.wanted) wantedElsewhere.add(m.exporterId);
        else wantedElsewhere.delete(m.exporterId);
        return;
      case 'otelhouse:tail-batch':
        return service?.deliverExported(m.exporterId, m.batch);
      case 'otelhouse:service-stats':
        statsAsked.get(m.id)?.(m.body);
        statsAsked.delete(m.id);
        return;
    }
  });
  const peers: WorkerPeers = {
    wanted: (exporterId) => wantedElsewhere.has(exporterId),
    interest: (exporterId, observed) => send({ type: 'otelhouse:tail-interest', exporterId, observed }),
    forward: (exporterId, batch) => send({ type: 'otelhouse:tail-batch', exporterId, batch }),
    serviceStats: () =>
      new Promise((resolve) => {
        const id = nextStats++;
        statsAsked.set(id, resolve);
        send({ type: 'otelhouse:service-stats-request', id });
      }),
  };
  try {
    service = await startWorkerService(config, logger, worker, peers);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'worker failed to start');
    return EXIT_FAILURE;
  }
  const running = service;
  return new Promise<number>((resolve) => {
    exitNow = () => resolve(EXIT_FAILURE);
    let draining = false;
    drain = (why: string) => {
      if (draining) return;
      draining = true;
      logger.info({ why }, 'draining: no new data is accepted; flushing what was accepted');
      running.shutdown(Date.now() + config.shutdownTimeoutMs).then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err: errorMessage(err) }, 'shutdown failed');
          resolve(EXIT_FAILURE);
        },
      );
    };
    send({ type: 'otelhouse:ready' });
    if (stopAsked !== undefined) drain(stopAsked);
  });
}

function answer(service: Service, id: number, query: TelemetryQuery): void {
  const body: Promise<unknown> =
    query === 'health'
      ? Promise.resolve(service.health())
      : query === 'stats'
        ? Promise.resolve(service.stats())
        : service.telemetry.registry.getMetricsAsJSON();
  body.then(
    (b) => send({ type: 'otelhouse:answer', id, body: b }),
    (err: unknown) => send({ type: 'otelhouse:answer', id, error: errorMessage(err) }),
  );
}
