import { PerformanceObserver, constants } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import t from 'tap';
import { loadConfig } from '../../../src/daemon.js';
import { encodeLogsRequest } from '../../../src/otlp/index.js';
import { ConfigError } from '../../../src/config/errors.js';
import { availableMemoryBytes, memoryLimiterConfigSchema, memoryLimits } from '../../../src/processors/memory_limiter/config.js';
import { memoryLimiterProcessorFactory } from '../../../src/processors/memory_limiter/index.js';
import { Telemetry } from '../../../src/telemetry/metrics.js';
import { startTestDaemon, waitFor } from '../../support/daemon.js';
import { numberedBatch } from '../../support/otlp-requests.js';
import { freePort } from '../../support/ports.js';

const MIB = 1024 * 1024;

function pipeline(memoryLimiter: string, clickhouse = 'endpoint: embedded://./unused'): string {
  return `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:0 }
      http: { endpoint: 127.0.0.1:0 }
processors:
  memory_limiter: { ${memoryLimiter} }
exporters:
  clickhouse: { ${clickhouse} }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [memory_limiter], exporters: [clickhouse] }
  shutdown_timeout: 1s
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`;
}

function issuesOf(yaml: string): string[] {
  try {
    loadConfig({ text: yaml }, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

t.test("config: one limit, spikes below it, as the OTel Collector's", async (t) => {
  t.same(issuesOf(pipeline('check_interval: 1s')), ['processors.memory_limiter.limit_mib: set exactly one of limit_mib and limit_percentage']);
  t.same(issuesOf(pipeline('limit_mib: 400, spike_limit_mib: 400')), ['processors.memory_limiter.spike_limit_mib: must be less than limit_mib']);
  t.same(issuesOf(pipeline('limit_mib: 400, limit_percentage: 50')), ['processors.memory_limiter.limit_mib: set exactly one of limit_mib and limit_percentage']);
  t.same(issuesOf(pipeline('limit_percentage: 50, spike_limit_percentage: 60')), ['processors.memory_limiter.spike_limit_percentage: must be less than limit_percentage']);
  t.same(issuesOf(pipeline('limit_mib: 400, check_interval: 0')), ['processors.memory_limiter.check_interval: must be greater than 0']);
  t.same(issuesOf(pipeline('limit_mib: 400, spike_limit_mib: 100, check_interval: 250ms')), []);

  const config = (yaml: string) => loadConfig({ text: pipeline(yaml) }, {}).processors.get('memory_limiter')!.config as Parameters<typeof memoryLimits>[0];
  t.same(memoryLimits(config('limit_mib: 400, spike_limit_mib: 100')), { hard: 400 * MIB, soft: 300 * MIB });
  t.same(memoryLimits(config('limit_mib: 500')), { hard: 500 * MIB, soft: 400 * MIB }, 'the spike defaults to 20 % of the limit');
  const available = availableMemoryBytes();
  // Within a byte: the limits are computed in floating point, and 50 % − 10 % need not round like 40 %.
  const percent = memoryLimits(config('limit_percentage: 50, spike_limit_percentage: 10'));
  t.ok(Math.abs(percent.hard - available * 0.5) < 1 && Math.abs(percent.soft - available * 0.4) < 1, `percentages of the memory available (${JSON.stringify(percent)} of ${available})`);
});

function grpcExport(port: number, first: number): Promise<{ code: number; retryInfo: boolean }> {
  const Client = grpc.makeGenericClientConstructor({}, 'LogsService');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(encodeLogsRequest(numberedBatch(first, 10))),
      (err: grpc.ServiceError | null) => {
        client.close();
        const details = err?.metadata?.get('grpc-status-details-bin')[0];
        resolve({ code: err ? err.code : grpc.status.OK, retryInfo: Buffer.isBuffer(details) && details.includes('type.googleapis.com/google.rpc.RetryInfo') });
      },
    );
  });
}

t.test('above the soft limit receivers get back-pressure; below it again they are served', async (t) => {
  // The daemon runs in this process, so memory this test holds counts: a ballast pushes resident
  // memory over the soft limit, and releasing it brings it back. The exporter's server is absent
  // (nothing listens), so what is accepted just waits in the queue.
  const rss = process.memoryUsage.rss() / MIB;
  const limit = Math.ceil(rss + 350);
  const daemon = await startTestDaemon(pipeline(`limit_mib: ${limit}, spike_limit_mib: 100, check_interval: 50ms`, `endpoint: "http://127.0.0.1:${await freePort()}"`));
  t.teardown(() => daemon.stop());
  const post = () => fetch(`http://127.0.0.1:${daemon.httpPort}/v1/logs`, { method: 'POST', body: encodeLogsRequest(numberedBatch(0, 10)), headers: { 'Content-Type': 'application/x-protobuf' } });
  const stats = async () =>
    ((await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { processors: Record<string, { refusing: number; rss_mib: number }> }).processors['memory_limiter']!;

  t.equal((await post()).status, 200, `below the soft limit (${limit - 100} MiB, resident ${Math.round(rss)} MiB) a request is accepted`);

  let ballast: Buffer | undefined = Buffer.alloc(400 * MIB, 1);
  t.ok(await waitFor(async () => (await stats()).refusing === 1, 10_000, 50), `with 400 MiB more held, the limiter refuses (resident ${(await stats()).rss_mib} MiB)`);
  const refused = await post();
  t.equal(refused.status, 429, 'OTLP/HTTP answers 429');
  t.match(refused.headers.get('retry-after'), /^[1-9]\d*$/, 'with Retry-After');
  t.same(await grpcExport(daemon.grpcPort, 100), { code: grpc.status.RESOURCE_EXHAUSTED, retryInfo: true }, 'OTLP/gRPC answers RESOURCE_EXHAUSTED with RetryInfo');
  const health = (await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/health`)).json()) as { status: string; components: Record<string, { detail?: string }> };
  t.equal(health.status, 'degraded');
  t.match(health.components['logs/memory_limiter']?.detail ?? '', /above the soft limit/);
  t.equal(ballast.length, 400 * MIB);

  ballast = undefined;
  t.ok(await waitFor(async () => (await stats()).refusing === 0, 10_000, 50), 'once the ballast is released (the limiter collects garbage) it takes data again');
  t.equal((await post()).status, 200, 'and requests are accepted');
  t.equal((await grpcExport(daemon.grpcPort, 200)).code, grpc.status.OK);
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /otelhouse_processor_refused_log_records_total\{processor="memory_limiter"\} 20\b/, 'the refused records are counted');
  t.match(metrics, /otelhouse_receiver_refused_log_records_total\{receiver="otlp",transport="http",reason="back_pressure"\} 10\b/);
});

t.test('forced garbage collections: at most one per min_gc_interval_when_soft_limited, every check above the hard limit', async (t) => {
  // Forced full collections in this process, as V8 reports them.
  let forced = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (((e as unknown as { detail?: { flags?: number } }).detail?.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) forced++;
  });
  observer.observe({ entryTypes: ['gc'] });
  t.teardown(() => observer.disconnect());

  const run = async (config: Record<string, unknown>, until: (count: number) => boolean) => {
    const telemetry = new Telemetry();
    const limiter = memoryLimiterProcessorFactory.create(
      memoryLimiterConfigSchema.parse({ check_interval: '10ms', ...config }),
      { id: 'memory_limiter', kind: 'processor', logger: pino({ level: 'silent' }), telemetry: telemetry.forComponent('processor', 'memory_limiter') },
      { consume: async () => undefined },
    );
    const before = forced;
    await limiter.start();
    const counted = () => telemetry.stats().processors!['memory_limiter']!['forced_gc'] ?? 0;
    await waitFor(async () => until(counted()), 10_000, 10);
    await limiter.shutdown(Date.now());
    await sleep(20); // GC entries are delivered asynchronously
    return { counted: counted(), observed: forced - before };
  };

  // Between the limits (soft 1 MiB, hard about 1 TiB): refusing, soft-limited.
  const soft = { limit_mib: 1_000_000, spike_limit_mib: 999_999 };
  let polls = 0;
  const once = await run({ ...soft, min_gc_interval_when_soft_limited: '1h' }, () => ++polls > 30);
  t.equal(once.counted, 1, 'over some 30 checks (10 ms apart) within an hour of the first collection, one forced collection');
  t.equal(once.observed, 1, 'and V8 saw exactly one');
  const again = await run({ ...soft, min_gc_interval_when_soft_limited: '50ms' }, (n) => n >= 3);
  t.ok(again.counted >= 3 && again.observed >= 3, `with 50ms, collections recur (${again.counted})`);
  const hard = await run({ limit_mib: 2, spike_limit_mib: 1, min_gc_interval_when_soft_limited: '1h' }, (n) => n >= 5);
  t.ok(hard.counted >= 5, `above the hard limit, a collection at every check (min_gc_interval_when_hard_limited: 0), whatever the soft interval (${hard.counted})`);
});
