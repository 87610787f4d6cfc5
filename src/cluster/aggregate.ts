import type { ComponentHealth } from '../pipeline/component.js';

/** /stats keys that are each worker's copy of one value (a setting, a shared template set), not a part of a total. */
const SAME_IN_EVERY_WORKER = new Set(['templates_loaded', 'parallel_threshold']);

/**
 * The workers' /stats as one: counts and gauges add up (each worker has its own queue and share of
 * the traffic), except the keys every worker holds a copy of, which show the largest.
 */
export function sumStats(parts: Array<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of parts) merge(out, part);
  return out;
}

function merge(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(from)) {
    const have = into[key];
    if (typeof value === 'number' && typeof have === 'number') {
      into[key] = SAME_IN_EVERY_WORKER.has(key) ? Math.max(have, value) : have + value;
    } else if (isRecord(value)) {
      const target = isRecord(have) ? have : (into[key] = {});
      merge(target as Record<string, unknown>, value);
    } else if (have === undefined) {
      into[key] = Array.isArray(value) ? [...(value as unknown[])] : value;
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One worker's /health, or why it has none (starting, restarting, not answering). */
export interface WorkerHealth {
  index: number;
  pid: number | undefined;
  health?: { status: string; components?: Record<string, ComponentHealth> } & Record<string, unknown>;
  problem?: string;
}

const RANK: Record<string, number> = { ok: 0, degraded: 1, down: 2 };

/**
 * The service's /health from its workers': the worst status of any (a worker that is not running
 * makes the service degraded, or down when none is), each component's worst health, and every
 * worker's own status.
 */
export function combineHealth(state: string, workers: WorkerHealth[]): Record<string, unknown> & { status: string } {
  const components: Record<string, ComponentHealth> = {};
  let worst = 'ok';
  let running = 0;
  let clickhouse: boolean | null = null;
  let templates = 0;
  for (const w of workers) {
    const h = w.health;
    const status = h !== undefined && h.status in RANK ? h.status : 'degraded';
    if (h !== undefined && h.state === 'running') running++;
    if (RANK[status]! > RANK[worst]!) worst = status;
    if (!h) continue;
    if (typeof h.clickhouse_connected === 'boolean') clickhouse = (clickhouse ?? true) && h.clickhouse_connected;
    if (typeof h.templates_loaded === 'number') templates = Math.max(templates, h.templates_loaded);
    for (const [id, c] of Object.entries(h.components ?? {})) {
      const have = components[id];
      if (!have || RANK[c.status]! > RANK[have.status]!) components[id] = c;
    }
  }
  if (running === 0) worst = 'down';
  return {
    status: state === 'running' ? worst : state,
    state,
    clickhouse_connected: clickhouse,
    templates_loaded: templates,
    components,
    workers: workers.map((w) => ({
      index: w.index,
      pid: w.pid,
      status: w.health?.status ?? 'down',
      ...(w.health && { state: w.health.state }),
      ...(w.problem && { detail: w.problem }),
    })),
  };
}
