import t from 'tap';
import { startTestDaemon } from '../support/daemon.js';

t.test('/metrics names the process and Node.js metrics with one otelhouse_ prefix', async (t) => {
  const daemon = await startTestDaemon(`
receivers:
  json_ingest: { endpoint: 127.0.0.1:0 }
exporters:
  debug: {}
service:
  pipelines:
    logs: { receivers: [json_ingest], exporters: [debug] }
  telemetry:
    metrics: { address: 127.0.0.1:0 }
`);
  t.teardown(() => daemon.stop());
  const metrics = await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/metrics`)).text();
  t.match(metrics, /^otelhouse_process_cpu_seconds_total \d/m);
  t.match(metrics, /^otelhouse_process_resident_memory_bytes \d/m);
  t.match(metrics, /^otelhouse_nodejs_heap_size_used_bytes \d/m);
  t.notMatch(metrics, /process_process/);
  t.notMatch(metrics, /^(process|nodejs)_/m, 'no default metric is left without the prefix');
});
