import { connect } from 'node:net';

/**
 * Sends `count` RFC 5424 messages, octet-counted, over one TCP connection as fast as the receiver
 * takes them, then prints a JSON line with the seconds it took. Its own process, so its CPU is not
 * the receiver's. argv: port count
 */
const [port, count] = process.argv.slice(2).map(Number) as [number, number];
const CHUNK = 5000;
const lines: Buffer[] = [];
for (let i = 0; i < CHUNK; i++) {
  const msg =
    `<165>1 2026-11-22T10:00:00.${String(i % 1000).padStart(3, '0')}Z web-${i % 16} ` +
    `checkout ${1000 + (i % 50)} ORDER [origin@32473 ip="10.0.${i % 255}.${i % 7}"] ` +
    `Order ${100000 + i} paid in ${i % 900} ms by user-${i % 5000}`;
  const bytes = Buffer.from(msg);
  lines.push(Buffer.from(`${bytes.length} `), bytes);
}
const chunk = Buffer.concat(lines);
const started = performance.now();
const socket = connect(port, '127.0.0.1', () => {
  let sent = 0;
  const write = () => {
    while (sent < count) {
      sent += CHUNK;
      if (!socket.write(chunk)) {
        socket.once('drain', write);
        return;
      }
    }
    socket.end();
  };
  write();
});
socket.on('close', () =>
  process.stdout.write(`${JSON.stringify({ seconds: (performance.now() - started) / 1000 })}\n`),
);
