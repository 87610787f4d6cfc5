import { Agent, request } from 'node:http';
import { encodeLogsRequest } from '../src/otlp/index.js';
import { benchmarkBatch } from './workload.js';

/**
 * The load generator, run as its own process so its CPU is not the daemon's: sends `requests`
 * OTLP/HTTP protobuf requests of `records` logs each over `concurrency` keep-alive connections and
 * prints a JSON line with what was accepted and the request latencies.
 * argv: port requests records concurrency
 */
const [port, requests, records, concurrency] = process.argv.slice(2).map(Number) as [number, number, number, number];
const bodies = Array.from({ length: 32 }, (_, i) => Buffer.from(encodeLogsRequest(benchmarkBatch(records, i))));
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const latencies: number[] = [];
let sent = 0;
let acceptedRecords = 0;
let refused = 0;

function post(body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/logs',
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function worker(): Promise<void> {
  while (sent < requests) {
    const body = bodies[sent++ % bodies.length]!;
    for (;;) {
      const t0 = performance.now();
      const status = await post(body);
      latencies.push(performance.now() - t0);
      if (status === 200) {
        acceptedRecords += records;
        break;
      }
      refused++;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
process.stdout.write(`${JSON.stringify({ acceptedRecords, refused, seconds, p50: pct(0.5), p99: pct(0.99) })}\n`);
agent.destroy();
