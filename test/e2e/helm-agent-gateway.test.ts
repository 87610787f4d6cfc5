import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import t from 'tap';
import { startDaemonProcess } from '../support/cli.js';
import { embeddedClient, queryRows, tempDir, waitFor } from '../support/daemon.js';
import { renderChart, rendererUnavailable } from '../support/helm.js';
import { freePort } from '../support/ports.js';
import { sdkExporter } from '../support/sdk.js';

/*
 * The chart's own configs, run: the agent preset's ConfigMap and the gateway preset's ConfigMap,
 * each started as a daemon process on loopback (the test points their ${env:...} addresses at free
 * ports, the queue at a temp dir and the gateway at an embedded ClickHouse). Logs go from the OTel
 * SDK → agent → gateway → ClickHouse while the gateway is restarted in the middle of the load.
 */

const ROUNDS = 16;
const PER_ROUND = 250;
const RESTART_AFTER_ROUND = 4;

interface Stats {
  receivers: Record<string, Record<string, number>>;
  exporters: Record<string, Record<string, number>>;
}

async function stats(port: number): Promise<Stats> {
  return (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as Stats;
}

function configMapText(values: Record<string, unknown>, release: string): string {
  const cm = renderChart(values, { release }).objects.find((o) => o.kind === 'ConfigMap')!;
  return (cm['data'] as Record<string, string>)['config.yaml']!;
}

async function run(): Promise<void> {
  const dir = tempDir('helm-e2e');
  const store = join(dir, 'clickhouse');
  const agentFile = join(dir, 'agent.yaml');
  const gatewayFile = join(dir, 'gateway.yaml');
  const agentConfig = configMapText({ mode: 'daemonset', preset: 'agent' }, 'otelhouse-agent');
  t.match(agentConfig, /storage: \$\{env:OTELHOUSE_QUEUE_DIR/, 'the agent preset keeps its queue on disk');
  writeFileSync(agentFile, agentConfig);
  writeFileSync(gatewayFile, configMapText({ mode: 'deployment', preset: 'gateway' }, 'otelhouse-gateway'));

  const [agentGrpc, agentHttp, agentTelemetry, gatewayGrpc, gatewayHttp, gatewayTelemetry] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const agentEnv = {
    OTELHOUSE_OTLP_GRPC_ENDPOINT: `127.0.0.1:${agentGrpc}`,
    OTELHOUSE_OTLP_HTTP_ENDPOINT: `127.0.0.1:${agentHttp}`,
    OTELHOUSE_TELEMETRY_ADDRESS: `127.0.0.1:${agentTelemetry}`,
    OTELHOUSE_GATEWAY_ENDPOINT: `dns:///127.0.0.1:${gatewayGrpc}`,
    OTELHOUSE_QUEUE_DIR: join(dir, 'agent-queue'),
  };
  const gatewayEnv = {
    OTELHOUSE_OTLP_GRPC_ENDPOINT: `127.0.0.1:${gatewayGrpc}`,
    OTELHOUSE_OTLP_HTTP_ENDPOINT: `127.0.0.1:${gatewayHttp}`,
    OTELHOUSE_TELEMETRY_ADDRESS: `127.0.0.1:${gatewayTelemetry}`,
    OTELHOUSE_CLICKHOUSE_ENDPOINT: `embedded://${store}`,
    OTELHOUSE_CLICKHOUSE_USERNAME: 'default',
    OTELHOUSE_CLICKHOUSE_PASSWORD: '',
    OTELHOUSE_QUEUE_DIR: join(dir, 'gateway-queue'),
  };

  let gateway = await startDaemonProcess(gatewayFile, gatewayEnv);
  const agent = await startDaemonProcess(agentFile, agentEnv);
  t.teardown(() => {
    for (const p of [agent, gateway]) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  });

  // The OTel SDK's batch processor drops what overflows its queue: flush after every round.
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'k8s.pod.name': 'checkout-0' }),
    processors: [new BatchLogRecordProcessor({ exporter: sdkExporter('grpc', { grpcPort: agentGrpc, httpPort: agentHttp }), maxExportBatchSize: 100, scheduledDelayMillis: 10 })],
  });
  const logger = provider.getLogger('e2e');
  const total = ROUNDS * PER_ROUND;
  let restarted: Promise<void> | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < PER_ROUND; i++) {
      const seq = round * PER_ROUND + i;
      logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: `order ${seq} paid in ${seq % 17} ms`, attributes: { seq } });
    }
    await provider.forceFlush();
    // Spread the load over the gateway's restart.
    await sleep(150);
    if (round === RESTART_AFTER_ROUND) {
      // The gateway rolls (SIGTERM, drain, start again) while the SDK keeps sending to the agent.
      restarted = (async () => {
        gateway.child.kill('SIGTERM');
        t.equal(await gateway.exited, 0, 'the gateway drained and exited 0');
        gateway = await startDaemonProcess(gatewayFile, gatewayEnv);
      })();
    }
  }
  await provider.shutdown();
  await restarted;

  const agentStats = await stats(agentTelemetry);
  t.equal(agentStats.receivers['otlp']!['accepted'], total, 'the agent accepted every record the SDK sent');
  t.ok(await waitFor(async () => ((await stats(agentTelemetry)).exporters['otlp']!['exported'] ?? 0) >= total, 60_000, 100), 'the agent forwarded every record');
  const forwarded = (await stats(agentTelemetry)).exporters['otlp']!;
  t.equal(forwarded['exported'], total, 'forwarded once each');
  t.equal(forwarded['failed'] ?? 0, 0, 'nothing given up');
  t.ok((forwarded['retries'] ?? 0) > 0, 'the agent retried while the gateway was away');

  agent.child.kill('SIGTERM');
  t.equal(await agent.exited, 0, 'the agent drained and exited 0');
  gateway.child.kill('SIGTERM');
  t.equal(await gateway.exited, 0, 'the gateway drained and exited 0');

  const client = embeddedClient(store);
  t.teardown(() => client.close());
  const [row] = await queryRows<{ rows: string; unique: string; min: string; max: string; service: string }>(
    client,
    "SELECT toString(count()) AS rows, toString(uniqExact(LogAttributes['seq'])) AS unique, toString(min(toUInt64(LogAttributes['seq']))) AS min, toString(max(toUInt64(LogAttributes['seq']))) AS max, any(ServiceName) AS service FROM otel.otel_logs",
  );
  t.same(row, { rows: String(total), unique: String(total), min: '0', max: String(total - 1), service: 'checkout' }, `ClickHouse holds all ${total} logs exactly once`);
  const [templated] = await queryRows<{ n: string }>(client, 'SELECT toString(countIf(TemplateId != 0)) AS n FROM otel.otel_logs');
  t.equal(templated!.n, String(total), 'the gateway preset matched every log to a template');
}

t.test("SDK → agent → gateway → ClickHouse with the chart's configs; the gateway restarts mid-load", { skip: rendererUnavailable() ?? false }, run);
