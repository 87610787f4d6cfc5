import { createServer } from 'node:net';

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on 127.0.0.1 right now, for daemons started as child processes. It is picked
 * below Linux's ephemeral range (32768+): a client that keeps connecting to an ephemeral port no one
 * listens on can be given that same port as its own and connect to itself, taking the port.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await tryListen(port)) return port;
  }
}
