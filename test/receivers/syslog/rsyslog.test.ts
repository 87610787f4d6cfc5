import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { SyslogReceiver } from '../../../src/receivers/syslog/syslog-receiver.js';
import { embeddedClient, oneReceiverYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { freePort } from '../../support/ports.js';

const run = promisify(execFile);
const MESSAGES = 50;
/** rsyslogd lives in sbin, which a non-root PATH may lack. */
const PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
const rsyslogd = PATH.split(':')
  .map((dir) => join(dir, 'rsyslogd'))
  .find((file) => existsSync(file));

/**
 * A real rsyslog relay (Debian's rsyslog, started by the test with its own config and work
 * directory, loopback only): messages sent to it over UDP are forwarded to otelhouse with omfwd
 * over TCP, once octet-counted and once newline-framed ("traditional").
 */
// CI installs rsyslog (.ci/run) and must run this test; a developer machine without it is told how.
const skip = !rsyslogd && !process.env.CI ? 'rsyslogd not found: apt-get install rsyslog to run this test' : false;

t.test('rsyslog relays to the receiver with omfwd over TCP in both framings; every message arrives', { skip }, async (t) => {
  t.ok(rsyslogd, 'rsyslogd is installed');
  const dir = tempDir('rsyslog');
  const store = join(dir, 'store');
  const daemon = await startTestDaemon(
    oneReceiverYaml({ receiver: 'syslog:\n  tcp: { listen_address: 127.0.0.1:0 }', batch: 'send_batch_size: 1000, timeout: 50ms', clickhouse: `endpoint: "embedded://${store}"` }),
  );
  t.teardown(() => daemon.stop());
  const tcpPort = (daemon.service.receivers[0]!.component as SyslogReceiver).tcpPort;
  const rsyslogPort = await freePort();
  const work = join(dir, 'rsyslog-work');
  mkdirSync(work);
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `global(workDirectory="${work}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="${rsyslogPort}")
action(type="omfwd" target="127.0.0.1" port="${tcpPort}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfwd" target="127.0.0.1" port="${tcpPort}" protocol="tcp" TCP_Framing="traditional" template="RSYSLOG_TraditionalForwardFormat")
`,
  );
  const rsyslog = spawn(rsyslogd!, ['-n', '-f', conf, '-i', join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let rsyslogOutput = '';
  rsyslog.stdout.on('data', (d: Buffer) => (rsyslogOutput += d.toString()));
  rsyslog.stderr.on('data', (d: Buffer) => (rsyslogOutput += d.toString()));
  t.teardown(() => {
    rsyslog.kill('SIGTERM');
  });
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(rsyslog.exitCode, null, `rsyslogd is running ${rsyslogOutput}`);

  for (let i = 0; i < MESSAGES; i++) {
    await run('logger', ['--server', '127.0.0.1', '--port', String(rsyslogPort), '--udp', '--rfc3164', '-t', 'relayed', '-p', 'daemon.err', `relayed message ${i} ✓`]);
  }
  const client = embeddedClient(store);
  t.teardown(() => client.close());
  const arrived = await waitFor(async () => (await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n === String(2 * MESSAGES), 30_000);
  t.ok(arrived, `all ${2 * MESSAGES} forwarded messages arrive (${rsyslogOutput})`);
  const rows = await queryRows<{ format: string; n: string; distinct: string; apps: string[]; severities: number[]; bad: string }>(
    client,
    `SELECT LogAttributes['syslog.format'] AS format, toString(count()) AS n, toString(uniqExact(Body)) AS distinct,
            groupUniqArray(ServiceName) AS apps, groupUniqArray(SeverityNumber) AS severities,
            toString(countIf(NOT match(Body, '^ ?relayed message [0-9]+ ✓$'))) AS bad
     FROM otel.otel_logs GROUP BY format ORDER BY format`,
  );
  t.same(
    rows,
    [
      { format: 'rfc3164', n: String(MESSAGES), distinct: String(MESSAGES), apps: ['relayed'], severities: [17], bad: '0' },
      { format: 'rfc5424', n: String(MESSAGES), distinct: String(MESSAGES), apps: ['relayed'], severities: [17], bad: '0' },
    ],
    'each framing delivered every message once, parsed (rsyslog keeps the space before a BSD message in %msg%)',
  );
});
