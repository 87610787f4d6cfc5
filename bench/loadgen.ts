import { Agent, request } from 'node:http';
import { encodeLogsRequest } from '../src/otlp/index.js';
import { loghubMix } from './loghub.js';
import { benchmarkBatch } from './workload.js';

/**
 * The load generator, run as its own process so its CPU is not the daemon's: sends `requests`
 * OTLP/HTTP protobuf requests of `records` logs each over `concurrency` keep-alive connections and
 * prints a JSON line with what was accepted and the request latencies. The requests are 32
 * distinct ones, sent in turn; once they are encoded it prints `ready` and starts sending when a
 * line comes on stdin, so that the caller's measurement leaves out its start-up. with the loghub workload they hold
 * 32 × records lines of the loghub-2k mix at DATA_DIR (all of it at 1,000 records a request).
 * argv: port requests records concurrency [DATA_DIR]
 */
const [port, requests, records, concurrency] = process.argv.slice(2, 6).map(Number) as [number, number, number, number];
const dataDir = process.argv[6];
const lines = dataDir ? loghubMix(dataDir, 32 * records) : undefined;
const bodies = Array.from({ length: 32 }, (_, i) => Buffer.from(encodeLogsRequest(benchmarkBatch(records, i, lines))));
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

process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy();
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
process.stdout.write(`${JSON.stringify({ acceptedRecords, refused, seconds, p50: pct(0.5), p99: pct(0.99) })}\n`);
agent.destroy();
