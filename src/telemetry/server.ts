import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { parseHostPort } from '../config/types.js';
import type { Service } from '../pipeline/service.js';

/** The operating endpoints: /health (JSON; 503 unless running), /stats (JSON), /metrics (Prometheus). */
export class TelemetryServer {
  private server: Server | undefined;
  port = 0;

  constructor(
    private readonly address: string,
    private readonly service: Service,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET' }).end();
        return;
      }
      if (path === '/health') {
        const health = this.service.health();
        const healthy = health.status === 'ok' || health.status === 'degraded';
        res.writeHead(healthy ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify(health));
      } else if (path === '/stats') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(this.service.stats()));
      } else if (path === '/metrics') {
        this.service.telemetry.registry.metrics().then(
          (text) => res.writeHead(200, { 'Content-Type': this.service.telemetry.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
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
