import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Syslog over TCP (RFC 5424, octet counting) from a separate process into the daemon (syslog →
 * batch → debug exporter counting), then the same load into rsyslog (imtcp → a file in /dev/shm),
 * and the ratio. Env: BENCH_MESSAGES (default 1,000,000).
 */
const COUNT = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'otelhouse-bench-syslog-'));
const base = 20000 + Math.floor(Math.random() * 20000);
const [syslogPort, telemetryPort, rsyslogPort] = [base, base + 1, base + 2];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function send(port: number): Promise<number> {
  const sender = spawn(process.execPath, [join(root, 'dist/bench/syslog-sender.js'), String(port), String(COUNT)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  sender.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) =>
    sender.once('close', () => resolve((JSON.parse(out) as { seconds: number }).seconds)),
  );
}

async function otelhouse(): Promise<{ rate: number; rssMiB: number }> {
  writeFileSync(
    join(dir, 'bench.yaml'),
    `receivers:
  syslog:
    tcp: { listen_address: 127.0.0.1:${syslogPort} }
processors:
  batch: { send_batch_size: 20000, timeout: 200ms }
exporters:
  debug: { verbosity: basic }
service:
  pipelines:
    logs: { receivers: [syslog], processors: [batch], exporters: [debug] }
  telemetry:
    metrics: { address: 127.0.0.1:${telemetryPort} }
    logs: { level: warn }
`,
  );
  const daemon = spawn(join(root, 'dist/src/cli/main.js'), ['run', '--config', join(dir, 'bench.yaml')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const accepted = async () => {
    try {
      const s = (await (await fetch(`http://127.0.0.1:${telemetryPort}/stats`)).json()) as {
        receivers: { syslog?: { accepted?: number } };
      };
      return s.receivers.syslog?.accepted ?? 0;
    } catch {
      return -1;
    }
  };
  while ((await accepted()) < 0) await sleep(100);
  const started = performance.now();
  await send(syslogPort);
  while ((await accepted()) < COUNT) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  const rss = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('close', r));
  return { rate: COUNT / seconds, rssMiB: rss };
}

async function rsyslog(): Promise<number | undefined> {
  const rsyslogd = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((f) => existsSync(f));
  if (!rsyslogd) return undefined;
  const work = join(dir, 'rsyslog');
  mkdirSync(work);
  const out = `/dev/shm/otelhouse-bench-${process.pid}.log`;
  writeFileSync(
    join(work, 'rsyslog.conf'),
    `global(workDirectory="${work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${rsyslogPort}")
template(name="msgonly" type="string" string="%msg%\\n")
action(type="omfile" file="${out}" template="msgonly")
`,
  );
  const daemon = spawn(rsyslogd, ['-n', '-f', join(work, 'rsyslog.conf'), '-i', join(work, 'pid')], {
    stdio: 'ignore',
  });
  await sleep(1000);
  const started = performance.now();
  await send(rsyslogPort);
  // Every line has the same shape, so the file is complete once it stops growing at the count.
  let lines = 0;
  for (let last = -1; ; await sleep(100)) {
    const size = existsSync(out) ? statSync(out).size : 0;
    if (size === last) {
      lines = Number(execFileSync('wc', ['-l', out]).toString().split(' ')[0]);
      if (lines >= COUNT) break;
    }
    last = size;
  }
  const seconds = (performance.now() - started) / 1000 - 0.1;
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('close', r));
  rmSync(out, { force: true });
  return COUNT / seconds;
}

const ours = await otelhouse();
const theirs = await rsyslog();
rmSync(dir, { recursive: true, force: true });
console.log(`\nbench:syslog — ${COUNT.toLocaleString('en')} RFC 5424 messages, octet-counted, one TCP connection`);
console.log('| receiver | messages/s | peak RSS (MiB) |');
console.log('|---|---:|---:|');
console.log(
  `| otelhouse (syslog → batch → debug) ` +
    `| ${Math.round(ours.rate).toLocaleString('en')} | ${ours.rssMiB.toFixed(0)} |`,
);
if (theirs === undefined) console.log('| rsyslog | not installed (apt-get install rsyslog) | |');
else {
  console.log(`| rsyslog (imtcp → file in /dev/shm) | ${Math.round(theirs).toLocaleString('en')} | |`);
  console.log(`\notelhouse / rsyslog: ${(ours.rate / theirs).toFixed(2)}`);
}
