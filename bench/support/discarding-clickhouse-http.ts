import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * DiscardingClickHouseHttp: a stand-in for a ClickHouse server's HTTP interface that stores
 * nothing, so that bench:e2e can measure the daemon's side of sending to a server (encoding, gzip,
 * HTTP) without a ClickHouse on the machine. Run as its own process, so that its CPU is not the
 * daemon's. It answers what @clickhouse/client sends:
 * - GET /ping: `Ok.`;
 * - statements (DDL and INSERTs: @clickhouse/client gzips their bodies): the body is read, its
 *   bytes counted and dropped, 200;
 * - queries (plain bodies ending in `FORMAT X`, e.g. the templates read back at start): 200 with
 *   an empty result in that format.
 * Prints `{"port":N}` once listening and, on SIGTERM, the requests and body bytes it received.
 * argv: [port] (default: any free one)
 */
const EMPTY_RESULT: Record<string, string> = {
  JSON: '{"meta":[],"data":[],"rows":0,"statistics":{"elapsed":0,"rows_read":0,"bytes_read":0}}\n',
  JSONCompact: '{"meta":[],"data":[],"rows":0,"statistics":{"elapsed":0,"rows_read":0,"bytes_read":0}}\n',
};

const received = { statements: 0, statementBytes: 0, queries: 0 };

const server = createServer((req, res) => {
  if (req.method === 'GET' && (req.url ?? '').startsWith('/ping')) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
    return;
  }
  const compressed = req.headers['content-encoding'] !== undefined;
  const chunks: Buffer[] = [];
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (!compressed) chunks.push(chunk);
  });
  req.on('end', () => {
    if (compressed) {
      received.statements++;
      received.statementBytes += bytes;
      res.writeHead(200, { 'X-ClickHouse-Summary': '{}' }).end();
      return;
    }
    received.queries++;
    const format =
      [
        ...Buffer.concat(chunks)
          .toString('utf8')
          .matchAll(/\bFORMAT\s+(\w+)/g),
      ].at(-1)?.[1] ?? '';
    res.writeHead(200, { 'X-ClickHouse-Format': format }).end(EMPTY_RESULT[format] ?? '');
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify(received)}\n`, () => process.exit(0));
});
