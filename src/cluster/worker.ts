import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/loader.js';
import { startWorkerService } from '../daemon.js';
import { errorMessage } from '../pipeline/errors.js';
import type { ExportRelay } from '../pipeline/host.js';
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
 * signal of its own (Ctrl-C reaches every process of the group), or when the primary is gone.
 * Resolves with the exit code.
 */
export async function runWorker(config: ServiceConfig, logger: Logger): Promise<number> {
  const worker = workerIdentity();
  const wantedElsewhere = new Set<string>();
  let service: Service | undefined;
  // Until the service runs, tail batches from the other workers have no observer to reach.
  process.on('message', (m: unknown) => {
    if (!isMessage<PrimaryMessage>(m)) return;
    if (m.type === 'otelhouse:tail-wanted') {
      if (m.wanted) wantedElsewhere.add(m.exporterId);
      else wantedElsewhere.delete(m.exporterId);
    } else if (m.type === 'otelhouse:tail-batch') service?.deliverExported(m.exporterId, m.batch);
  });
  const relay: ExportRelay = {
    wanted: (exporterId) => wantedElsewhere.has(exporterId),
    interest: (exporterId, observed) => send({ type: 'otelhouse:tail-interest', exporterId, observed }),
    forward: (exporterId, batch) => send({ type: 'otelhouse:tail-batch', exporterId, batch }),
  };
  try {
    service = await startWorkerService(config, logger, worker, relay);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'worker failed to start');
    return EXIT_FAILURE;
  }
  const running = service;
  return new Promise<number>((resolve) => {
    let draining: Promise<void> | undefined;
    const drain = (why: string) => {
      if (draining) return;
      logger.info({ why }, 'draining: no new data is accepted; flushing what was accepted');
      draining = running.shutdown(Date.now() + config.shutdownTimeoutMs).then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err: errorMessage(err) }, 'shutdown failed');
          resolve(EXIT_FAILURE);
        },
      );
    };
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals === 1) return drain(signal);
      logger.warn({ signal }, 'second signal: exiting without finishing the drain');
      resolve(EXIT_FAILURE);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('disconnect', () => drain('the primary process is gone'));
    process.on('message', (m: unknown) => {
      if (!isMessage<PrimaryMessage>(m)) return;
      if (m.type === 'otelhouse:shutdown') drain('asked by the primary process');
      else if (m.type === 'otelhouse:exit-now') {
        logger.warn('exiting without finishing the drain, as the primary process was told');
        resolve(EXIT_FAILURE);
      } else if (m.type === 'otelhouse:query') answer(running, m.id, m.query);
    });
    send({ type: 'otelhouse:ready' });
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
