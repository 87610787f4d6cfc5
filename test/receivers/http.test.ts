import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import t from 'tap';
import zstdNapi from 'zstd-napi';
import { BackPressureError, ShuttingDownError } from '../../src/pipeline/errors.js';
import { HttpRequestError, answerRefusal, readRequestBody } from '../../src/receivers/http.js';
import { zstdHugeWindowFrame, zstdRleBomb } from '../support/fuzz.js';

/** A request as readRequestBody sees it: a body stream and its headers. */
function request(body: Uint8Array, contentEncoding: string): IncomingMessage {
  const req = Readable.from([Buffer.from(body)]) as unknown as IncomingMessage;
  req.headers = { 'content-encoding': contentEncoding, 'content-length': String(body.length) };
  return req;
}

async function refusal(body: Uint8Array, encoding: string, limit: number): Promise<HttpRequestError> {
  try {
    await readRequestBody(request(body, encoding), limit, 'max_request_body_size');
  } catch (err) {
    if (err instanceof HttpRequestError) return err;
    throw err;
  }
  throw new Error('the body was accepted');
}

/** Peak resident memory of this process so far, in MiB. */
const peakRssMib = () => process.resourceUsage().maxRSS / 1024;

async function streamFrames(data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const stream = new zstdNapi.CompressStream();
  stream.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve) => stream.on('end', resolve));
  // Two writes with a flush between: the frame has no content size and several blocks.
  stream.write(data.subarray(0, data.length >> 1));
  stream.write(data.subarray(data.length >> 1));
  stream.end();
  await ended;
  return Buffer.concat(chunks);
}

t.test('zstd: one-shot and streamed frames, several frames in one body', async (t) => {
  const text = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i} of the body\n`).join(''));
  const oneShot = zstdNapi.compress(text);
  const streamed = await streamFrames(text);
  t.same(await readRequestBody(request(oneShot, 'zstd'), 1 << 20, 'limit'), text, 'a frame with its content size');
  t.same(await readRequestBody(request(streamed, 'zstd'), 1 << 20, 'limit'), text, 'a frame without a content size');
  t.same(await readRequestBody(request(Buffer.concat([oneShot, streamed]), 'zstd'), 1 << 20, 'limit'), Buffer.concat([text, text]), 'two frames');
  t.same(await readRequestBody(request(oneShot, 'zstd'), text.length, 'limit'), text, 'a body exactly at the limit');
  const over = await refusal(oneShot, 'zstd', text.length - 1);
  t.equal(over.status, 413, 'one byte over the limit: 413');
  t.match(over.message, /decompressed body exceeds max_request_body_size/);
});

t.test('zstd: a bomb stops at the limit, with the memory of the limit, letting the event loop turn', async (t) => {
  const peakBefore = peakRssMib();
  // 49 KB that would expand to 1.5 GiB.
  const bomb = await refusal(zstdRleBomb(12_288), 'zstd', 20 * 1024 * 1024);
  t.equal(bomb.status, 413);
  t.match(bomb.message, /decompressed body exceeds max_request_body_size 20971520 bytes/);

  // A frame declaring a 2 GiB window: the decoder would allocate it before producing a byte.
  const window = await refusal(zstdHugeWindowFrame(), 'zstd', 20 * 1024 * 1024);
  t.equal(window.status, 413);
  t.match(window.message, /zstd frame needs a window larger than 8 MiB/);
  const grown = peakRssMib() - peakBefore;
  t.ok(grown < 256, `peak memory grew by ${grown.toFixed(0)} MiB (a 20 MiB limit), not by the bomb's size`);

  // A legitimate 16 MiB body decodes in steps, not in one turn of the event loop.
  let turns = 0;
  let counting = true;
  const count = () => {
    turns++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const body = await readRequestBody(request(zstdRleBomb(128, 0x42), 'zstd'), 20 * 1024 * 1024, 'limit').finally(() => (counting = false));
  t.equal(body.length, 16 * 1024 * 1024);
  t.ok(body.equals(Buffer.alloc(body.length, 0x42)), 'decoded intact');
  t.ok(turns >= 4, `the event loop turned ${turns} times while 16 MiB were decoded`);
});

t.test('zstd: truncated and corrupt bodies get 400 with the reason', async (t) => {
  const frame = zstdNapi.compress(Buffer.from('a body worth compressing, a body worth compressing'));
  const truncated = await refusal(frame.subarray(0, frame.length - 3), 'zstd', 1 << 20);
  t.equal(truncated.status, 400);
  t.match(truncated.message, /cannot decompress zstd body: truncated zstd frame/);
  const garbage = await refusal(Buffer.from('not zstd at all'), 'zstd', 1 << 20);
  t.equal(garbage.status, 400);
  t.match(garbage.message, /cannot decompress zstd body: Unknown frame descriptor/);
});

t.test('answerRefusal: one answer for every HTTP receiver', async (t) => {
  const errors: Record<string, unknown> = {
    '/too-large': new HttpRequestError(413, 'request body exceeds max_request_body_size 10 bytes'),
    '/unsupported': new HttpRequestError(415, 'unsupported content type'),
    '/queue-full': new BackPressureError('queue full', 2500),
    '/shutting-down': new ShuttingDownError('otlp'),
    '/bug': new TypeError('x is undefined'),
  };
  const logged: string[] = [];
  const context = { id: 'test', kind: 'receiver' as const, logger: { error: (_: unknown, msg: string) => logged.push(msg) }, telemetry: undefined } as never;
  const server = createServer((req, res) => {
    answerRefusal(req, res, errors[req.url!], context, (r) => ({ contentType: 'application/json', body: JSON.stringify(r) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  /** Sends `body` and, unless `complete`, leaves it unfinished: the answer comes before the body is read. */
  const send = (path: string, complete = true) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: { httpStatus: number; grpcCode: number; message: string } }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'Content-Length': complete ? '2' : '1000' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.write(complete ? '{}' : '{"partial":');
    });

  const tooLarge = await send('/too-large');
  t.match(
    tooLarge,
    { status: 413, headers: { connection: 'close' }, body: { httpStatus: 413, grpcCode: 8, message: /exceeds max_request_body_size/ } },
    '413: RESOURCE_EXHAUSTED, and the connection closes',
  );
  t.match(await send('/unsupported'), { status: 415, body: { grpcCode: 3 } }, '415: INVALID_ARGUMENT');
  t.notOk((await send('/unsupported')).headers['retry-after'], 'no Retry-After for a request that cannot succeed');
  t.match(
    await send('/queue-full'),
    { status: 429, headers: { 'retry-after': '3' }, body: { grpcCode: 8, message: /retry later: queue full/ } },
    'back-pressure: 429 with Retry-After in whole seconds',
  );
  t.match(await send('/shutting-down'), { status: 503, headers: { 'retry-after': '5' }, body: { grpcCode: 14 } }, 'shutting down: 503 UNAVAILABLE with Retry-After');
  t.equal(logged.length, 0, 'expected refusals are not logged as errors');
  t.match(await send('/bug'), { status: 503, headers: { 'retry-after': '1' }, body: { grpcCode: 14 } }, 'an unexpected error: 503, so the client keeps its data');
  t.same(logged, ['request failed'], 'and it is logged');
  const unfinished = await send('/queue-full', false);
  t.match(unfinished, { status: 429, headers: { connection: 'close' } }, 'a body still arriving: answered, then the connection closes');
});
