import type { Logger } from 'pino';
import { builtinComponents } from './components.js';
import { loadConfigFile, parseConfig, type ServiceConfig } from './config/loader.js';
import { Service } from './pipeline/service.js';
import { createLogger } from './telemetry/logger.js';
import { Telemetry } from './telemetry/metrics.js';
import { serviceView, TelemetryServer } from './telemetry/server.js';
import type { WorkerIdentity } from './pipeline/component.js';
import type { WorkerPeers } from './pipeline/host.js';

export interface Daemon {
  service: Service;
  telemetryServer: TelemetryServer;
  logger: Logger;
  /** Drains the pipelines (within service.shutdown_timeout) and stops the endpoints. */
  stop(): Promise<void>;
}

export function loadConfig(
  source: { file: string } | { text: string },
  env: NodeJS.ProcessEnv = process.env,
): ServiceConfig {
  const registry = builtinComponents();
  return 'file' in source ? loadConfigFile(source.file, registry, env) : parseConfig(source.text, registry, env);
}

/** Builds and starts everything a config describes. Throws ConfigError or a start-up error. */
export async function startDaemon(
  config: ServiceConfig,
  logger: Logger = createLogger(config.telemetry.logs.level),
): Promise<Daemon> {
  const service = new Service(config, logger, new Telemetry());
  const telemetryServer = new TelemetryServer(config.telemetry.metrics.address, serviceView(service), logger);
  await telemetryServer.start();
  try {
    await service.start();
  } catch (err) {
    await telemetryServer.close();
    throw err;
  }
  logger.info({ pipelines: config.pipelines.map((p) => p.id) }, 'otelhouse is running');
  let stopping: Promise<void> | undefined;
  return {
    service,
    telemetryServer,
    logger,
    stop() {
      stopping ??= (async () => {
        const started = Date.now();
        await service.shutdown(started + config.shutdownTimeoutMs);
        await telemetryServer.close();
        logger.info({ took_ms: Date.now() - started }, 'otelhouse stopped');
      })();
      return stopping;
    },
  };
}

/**
 * One of service.workers processes: the whole pipeline, without the operating endpoints (the
 * primary process serves them for all workers). Throws a start-up error.
 */
export async function startWorkerService(
  config: ServiceConfig,
  logger: Logger,
  worker: WorkerIdentity,
  peers: WorkerPeers,
): Promise<Service> {
  const service = new Service(config, logger, new Telemetry(), worker, peers);
  await service.start();
  logger.info({ pipelines: config.pipelines.map((p) => p.id) }, 'worker is running');
  return service;
}
