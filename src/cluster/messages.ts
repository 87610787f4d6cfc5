/** What the primary process and its pipeline workers (service.workers) say to each other over IPC. */

/** What the primary asks a worker for, to serve the operating endpoints. */
export type TelemetryQuery = 'health' | 'stats' | 'metrics';

export type PrimaryMessage =
  | { type: 'otelhouse:query'; id: number; query: TelemetryQuery }
  /** Drain and exit, as on a first SIGTERM (repeated, or after a signal of its own, it changes nothing). */
  | { type: 'otelhouse:shutdown' }
  /** Exit without finishing the drain, as on a second SIGTERM. */
  | { type: 'otelhouse:exit-now' }
  /** Whether another worker observes this exporter's batches (a console tail), so they are forwarded. */
  | { type: 'otelhouse:tail-wanted'; exporterId: string; wanted: boolean }
  /** A batch another worker's exporter accepted, for this worker's observers. */
  | { type: 'otelhouse:tail-batch'; exporterId: string; batch: Uint8Array }
  /** The whole service's /stats, as the worker asked (for the console). */
  | { type: 'otelhouse:service-stats'; id: number; body: Record<string, unknown> };

export type WorkerMessage =
  | { type: 'otelhouse:ready' }
  | { type: 'otelhouse:answer'; id: number; body?: unknown; error?: string }
  /** This worker's observers of an exporter's batches appeared or are all gone. */
  | { type: 'otelhouse:tail-interest'; exporterId: string; observed: boolean }
  | { type: 'otelhouse:tail-batch'; exporterId: string; batch: Uint8Array }
  | { type: 'otelhouse:service-stats-request'; id: number };

export const WORKER_INDEX_ENV = 'OTELHOUSE_WORKER_INDEX';
export const WORKER_COUNT_ENV = 'OTELHOUSE_WORKER_COUNT';

export function isMessage<T extends { type: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
