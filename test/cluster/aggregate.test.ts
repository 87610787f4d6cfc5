import t from 'tap';
import { combineHealth, sumStats } from '../../src/cluster/aggregate.js';

t.test("the workers' /stats add up, except what each holds a copy of", async (t) => {
  const worker = (accepted: number, queue: number, loaded: number) => ({
    state: 'running',
    pipelines: ['logs'],
    templates_loaded: loaded,
    receivers: { otlp: { accepted } },
    processors: { 'logs/templates': { matched: accepted, parallel_threshold: 5000, templates_loaded: loaded } },
    exporters: { clickhouse: { queue_size: queue } },
  });
  t.same(sumStats([worker(10, 2, 7), worker(5, 0, 9), worker(1, 1, 8)]), {
    state: 'running',
    pipelines: ['logs'],
    templates_loaded: 9,
    receivers: { otlp: { accepted: 16 } },
    processors: { 'logs/templates': { matched: 16, parallel_threshold: 5000, templates_loaded: 9 } },
    exporters: { clickhouse: { queue_size: 3 } },
  });
  t.same(sumStats([{ receivers: {} }, { receivers: { syslog: { accepted: 4 } } }]), { receivers: { syslog: { accepted: 4 } } }, 'a count only one worker has');
});

t.test("the service's /health is its worst worker's", async (t) => {
  const running = (status: string, queue: number) => ({
    status,
    state: 'running',
    clickhouse_connected: status === 'ok',
    templates_loaded: 3,
    components: { clickhouse: { status: status as 'ok', queue_size: queue } },
  });
  const both = combineHealth('running', [
    { index: 0, pid: 10, health: running('ok', 0) },
    { index: 1, pid: 11, health: running('degraded', 50) },
  ]);
  t.equal(both.status, 'degraded');
  t.equal(both.clickhouse_connected, false, 'connected only if every worker is');
  t.same(both.components, { clickhouse: { status: 'degraded', queue_size: 50 } }, "each component as its worst worker's");
  t.same(both.workers, [
    { index: 0, pid: 10, status: 'ok', state: 'running' },
    { index: 1, pid: 11, status: 'degraded', state: 'running' },
  ]);
  const restarting = combineHealth('running', [
    { index: 0, pid: 10, health: running('ok', 0) },
    { index: 1, pid: undefined, problem: 'not running' },
  ]);
  t.equal(restarting.status, 'degraded', 'a worker being restarted degrades the service');
  t.same((restarting.workers as unknown[])[1], { index: 1, pid: undefined, status: 'down', detail: 'not running' });
  t.equal(combineHealth('running', [{ index: 0, pid: undefined, problem: 'not running' }]).status, 'down', 'no worker running: down');
  t.equal(combineHealth('stopping', [{ index: 0, pid: 10, health: running('ok', 0) }]).status, 'stopping');
});
