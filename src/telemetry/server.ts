import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { parseHostPort } from '../config/types.js';
import type { Service } from '../pipeline/service.js';

/** What the operating endpoints show: one service's, or the sum of the worker processes'. */
export interface TelemetryView {
  health(): Promise<{ status: string } & Record<string, unknown>>;
  stats(): Promise<Record<string, unknown>>;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  readonly metricsContentType: string;
}

export function serviceView(service: Service): TelemetryView {
  return {
    health: async () => service.health(),
    stats: async () => service.stats(),
    metrics: () => service.telemetry.registry.metrics(),
    metricsContentType: service.telemetry.registry.contentType,
  };
}

/** The operating endpoints: /health (JSON; 503 unless running), /stats (JSON), /metrics (Prometheus). */
export class TelemetryServer {
  private server: Server | undefined;
  port = 0;

  constructor(
    private readonly address: string,
    private readonly view: TelemetryView,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET' }).end();
        return;
      }
      const fail = (err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`${err.message}\n`);
      };
      if (path === '/health') {
        this.view.health().then((health) => {
          const healthy = health.status === 'ok' || health.status === 'degraded';
          res.writeHead(healthy ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify(health));
        }, fail);
      } else if (path === '/stats') {
        this.view.stats().then((stats) => {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(stats));
        }, fail);
      } else if (path === '/metrics') {
        this.view.metrics().then((text) => {
          res.writeHead(200, { 'Content-Type': this.view.metricsContentType }).end(text);
        }, fail);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /health, /stats or /metrics\n');
      }
    });
    const { host, port } = parseHostPort(this.address)!;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`telemetry endpoints cannot listen on ${this.address}: ${err.message}`)),
      );
      server.listen(port, host, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.logger.info({ endpoint: `${host}:${this.port}` }, 'operating endpoints listening (/health, /stats, /metrics)');
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
