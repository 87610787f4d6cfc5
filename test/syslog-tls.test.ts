import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import t from 'tap';
import { SyslogReceiver } from '../src/receivers/syslog/index.js';
import { makeCertificates } from './support/certificates.js';
import { embeddedClient, oneReceiverYaml, queryRows, startTestDaemon, tempDir, waitFor } from './support/daemon.js';

t.test('syslog over TLS (RFC 5425) with client certificates', async (t) => {
  const dir = tempDir('syslog-tls');
  makeCertificates(dir);
  const store = join(dir, 'store');
  const tls = `{ cert_file: ${join(dir, 'server.crt')}, key_file: ${join(dir, 'server.key')}, client_ca_file: ${join(dir, 'ca.crt')} }`;
  const daemon = await startTestDaemon(
    oneReceiverYaml({ receiver: `syslog:\n  tcp: { listen_address: 127.0.0.1:0, tls: ${tls} }`, batch: 'send_batch_size: 100, timeout: 50ms', clickhouse: `endpoint: "embedded://${store}"` }),
  );
  t.teardown(() => daemon.stop());
  const port = (daemon.service.receivers[0]!.component as SyslogReceiver).tcpPort;
  const ca = readFileSync(join(dir, 'ca.crt'));
  const send = (withCert: boolean) =>
    new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca, ...(withCert ? { cert: readFileSync(join(dir, 'client.crt')), key: readFileSync(join(dir, 'client.key')) } : {}) }, () => {
        const msgs = ['<14>1 2026-11-22T10:00:00Z tls-host app - - - over TLS one', '<14>1 2026-11-22T10:00:01Z tls-host app - - - over TLS two'];
        socket.end(msgs.map((m) => `${Buffer.byteLength(m)} ${m}`).join(''));
      });
      socket.on('error', (err) => resolve(err.message));
      socket.on('close', () => resolve('closed'));
    });
  t.equal(await send(true), 'closed', 'a client with a certificate sends');
  const client = embeddedClient(store);
  t.teardown(() => client.close());
  t.ok(await waitFor(async () => (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === '2'));
  await send(false);
  await new Promise((r) => setTimeout(r, 500));
  const rows = await queryRows<{ Body: string }>(client, 'SELECT Body FROM otel.otel_logs ORDER BY Timestamp');
  t.same(rows.map((r) => r.Body), ['over TLS one', 'over TLS two'], 'a client without a certificate stores nothing');
});
