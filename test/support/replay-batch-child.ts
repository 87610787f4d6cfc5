import { Writable } from 'node:stream';
import { pino } from 'pino';
import { clickhouseConfigSchema } from '../../src/exporters/clickhouse/config.js';
import { ClickHouseLogsSender } from '../../src/exporters/clickhouse/exporter.js';
import { newAttributes, newLogRecord, type LogBatch } from '../../src/pipeline/model.js';
import { Telemetry } from '../../src/telemetry/metrics.js';

/*
 * Run as a child process, so each run opens the embedded store afresh as a restarted daemon does:
 * starts the clickhouse exporter on the store, sends one batch (RECORDS records a day over DAYS
 * days, the same rows every run) with the token given, as the queue replays it, and exits. Prints
 * the exporter's log lines at warn and above as JSON. Usage: node replay-batch-child.js PATH TOKEN DAYS RECORDS
 */
const [path, token, days, perDay] = process.argv.slice(2);
const DAY_NS = 86_400_000_000_000n;
const FIRST_DAY = 1_793_534_400_000_000_000n; // 2026-11-01 12:00 UTC

const batch: LogBatch = { resourceLogs: [] };
const resource = newAttributes();
resource['service.name'] = 'replayed';
const logRecords = [];
for (let d = 0; d < Number(days); d++) {
  for (let i = 0; i < Number(perDay); i++) {
    const r = newLogRecord();
    r.timeUnixNano = FIRST_DAY + BigInt(d) * DAY_NS + BigInt(i);
    r.body = `day ${d} record ${i}`;
    r.attributes['seq'] = `${d}:${i}`;
    logRecords.push(r);
  }
}
batch.resourceLogs.push({
  resource: { attributes: resource, droppedAttributesCount: 0 },
  schemaUrl: '',
  scopeLogs: [{ scope: { name: 'replay', version: '', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', logRecords }],
});

const lines: unknown[] = [];
const logger = pino(
  { level: 'warn' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  }),
);
const sender = new ClickHouseLogsSender(clickhouseConfigSchema.parse({ endpoint: `embedded://${path}` }), {
  id: 'clickhouse',
  kind: 'exporter',
  logger,
  telemetry: new Telemetry().forComponent('exporter', 'clickhouse'),
});
await sender.start();
const outcome = await sender.attempt(sender.prepare(batch), logRecords.length, token!, 1);
await sender.stop();
process.stdout.write(JSON.stringify({ outcome: outcome ?? null, logs: lines }));
