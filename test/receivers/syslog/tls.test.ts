import { X509Certificate } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { connect, type ConnectionOptions } from 'node:tls';
import t from 'tap';
import { SyslogReceiver } from '../../../src/receivers/syslog/syslog-receiver.js';
import { issueCertificate, makeCa, makeCertificates } from '../../support/certs.js';
import { embeddedClient, oneReceiverYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';

t.test('syslog over TLS (RFC 5425): client certificates, minimum version, certificate reload', async (t) => {
  const dir = tempDir('syslog-tls');
  const certs = makeCertificates(dir);
  makeCa(dir, 'other-ca');
  issueCertificate(dir, 'stranger', 'other-ca', 'client');
  const store = `${dir}/store`;
  const tls = `{ cert_file: ${certs.crt('server')}, key_file: ${certs.key('server')}, client_ca_file: ${certs.crt('ca')}, min_version: "1.3", reload_interval: 100ms }`;
  const daemon = await startTestDaemon(
    oneReceiverYaml({ receiver: `syslog:\n  tcp: { listen_address: 127.0.0.1:0, tls: ${tls} }`, batch: 'send_batch_size: 100, timeout: 50ms', clickhouse: `endpoint: "embedded://${store}"` }),
  );
  t.teardown(() => daemon.stop());
  const port = (daemon.service.receivers[0]!.component as SyslogReceiver).tcpPort;
  const ca = certs.read(certs.crt('ca'));
  const clientCert = (name: string) => ({ cert: certs.read(certs.crt(name)), key: certs.read(certs.key(name)) });
  /** Sends two messages; resolves with 'closed' (sent) or the error, and the server certificate's serial. */
  const send = (tag: string, options: Partial<ConnectionOptions>) =>
    new Promise<{ outcome: string; serial?: string }>((resolve) => {
      let serial: string | undefined;
      const socket = connect({ host: '127.0.0.1', port, ca, ...options }, () => {
        serial = socket.getPeerCertificate().serialNumber;
        const msgs = [`<14>1 2026-11-22T10:00:00Z tls-host app - - - ${tag} one`, `<14>1 2026-11-22T10:00:01Z tls-host app - - - ${tag} two`];
        socket.end(msgs.map((m) => `${Buffer.byteLength(m)} ${m}`).join(''));
      });
      socket.on('error', (err) => resolve({ outcome: err.message }));
      socket.on('close', () => resolve({ outcome: 'closed', serial }));
    });

  // With TLS 1.3 the client may finish its side of the handshake before the server rejects its
  // certificate, so refusals are counted where they happen: on the server.
  const handshakeFailures = async () =>
    ((await (await fetch(`http://127.0.0.1:${daemon.telemetryPort}/stats`)).json()) as { receivers: { syslog: { tls_handshake_failed?: number } } }).receivers.syslog.tls_handshake_failed ?? 0;
  const first = await send('trusted', clientCert('client'));
  t.equal(first.outcome, 'closed', 'a client with a certificate from the CA sends');
  t.equal(await handshakeFailures(), 0, 'no handshake failed yet');
  await send('anonymous', {});
  t.ok(await waitFor(async () => (await handshakeFailures()) === 1), 'a client without a certificate is refused');
  await send('stranger', clientCert('stranger'));
  t.ok(await waitFor(async () => (await handshakeFailures()) === 2), 'a client with a certificate from another CA is refused');
  t.match((await send('old-tls', { ...clientCert('client'), maxVersion: 'TLSv1.2' })).outcome, /version|handshake|alert/i, 'TLS 1.2 is refused under min_version 1.3');

  issueCertificate(dir, 'server-next', 'ca', 'server');
  copyFileSync(certs.key('server-next'), certs.key('server'));
  copyFileSync(certs.crt('server-next'), certs.crt('server'));
  const nextSerial = new X509Certificate(certs.read(certs.crt('server-next'))).serialNumber;
  let after = first;
  t.ok(await waitFor(async () => (after = await send('reloaded', clientCert('client'))).serial === nextSerial), 'new connections get the new certificate without a restart');
  t.equal(after.outcome, 'closed', 'and send over it');

  const client = embeddedClient(store);
  t.teardown(() => client.close());
  t.ok(
    await waitFor(async () => (await queryRows<{ n: string }>(client, "SELECT toString(count()) AS n FROM otel.otel_logs WHERE Body LIKE 'reloaded%'"))[0]!.n !== '0'),
    'messages sent after the reload are stored',
  );
  const rows = await queryRows<{ Body: string }>(client, "SELECT DISTINCT Body FROM otel.otel_logs WHERE Body NOT LIKE 'reloaded%' ORDER BY Body");
  t.same(
    rows.map((r) => r.Body),
    ['trusted one', 'trusted two'],
    'refused clients stored nothing',
  );
});
