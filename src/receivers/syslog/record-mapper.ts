import { isRepresentableUnixNano } from '../../pipeline/limits.js';
import { newAttributes, newLogRecord, type LogBatch, type LogRecord, type ResourceLogs } from '../../pipeline/model.js';
import type { SyslogMessage } from './parser.js';

/** Syslog severity 0–7 → OTel severity number and text, as the OTel Collector's syslog parser maps it. */
const SEVERITY_NUMBER = [22, 21, 18, 17, 13, 10, 9, 5];
const SEVERITY_TEXT = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

export interface Peer {
  address: string;
  port: bigint;
  transport: 'tcp' | 'udp';
}

/** PRI-derived integers as attribute values, made once instead of a BigInt per message. */
const SMALL_INTS = Array.from({ length: 192 }, (_, i) => BigInt(i));

/**
 * Collects parsed messages into a batch: one resource per (hostname, app-name), as the OTel syslog
 * receiver and semantic conventions name them: host.name, service.name; the rest as attributes.
 */
export class SyslogBatchBuilder {
  /** By hostname, then app-name: no key is built per message (a relay interleaves many hosts). */
  private resources = new Map<string, Map<string, ResourceLogs>>();
  count = 0;
  /** Messages whose timestamp the model cannot hold (before 1970, after 2262-04-11): they keep the time of receipt. */
  unrepresentableTimes = 0;

  private lastNow = -1;
  private lastNowNs = 0n;
  /** The resource of the last message: a stream's messages mostly share host and app. */
  private lastHost = '';
  private lastApp = '';
  private lastResource: ResourceLogs | undefined;

  constructor(private readonly keepRaw: boolean) {}

  receivedAt(nowMs: number): bigint {
    if (nowMs !== this.lastNow) {
      this.lastNow = nowMs;
      this.lastNowNs = BigInt(nowMs) * 1_000_000n;
    }
    return this.lastNowNs;
  }

  add(msg: SyslogMessage, raw: string, peer: Peer, receivedNs: bigint, truncated: boolean): void {
    const rl =
      this.lastResource !== undefined && msg.hostname === this.lastHost && msg.appname === this.lastApp
        ? this.lastResource
        : this.resourceOf(msg);
    rl.scopeLogs[0]!.logRecords.push(this.record(msg, raw, peer, receivedNs, truncated));
    this.count++;
  }

  private resourceOf(msg: SyslogMessage): ResourceLogs {
    let byApp = this.resources.get(msg.hostname);
    if (!byApp) this.resources.set(msg.hostname, (byApp = new Map()));
    let rl = byApp.get(msg.appname);
    if (!rl) {
      const attrs = newAttributes();
      if (msg.hostname) attrs['host.name'] = msg.hostname;
      if (msg.appname) attrs['service.name'] = msg.appname;
      rl = {
        resource: { attributes: attrs, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeLogs: [
          {
            scope: { name: 'otelhouse/syslog', version: '', attributes: newAttributes(), droppedAttributesCount: 0 },
            schemaUrl: '',
            logRecords: [],
          },
        ],
      };
      byApp.set(msg.appname, rl);
    }
    this.lastHost = msg.hostname;
    this.lastApp = msg.appname;
    this.lastResource = rl;
    return rl;
  }

  private record(msg: SyslogMessage, raw: string, peer: Peer, receivedNs: bigint, truncated: boolean): LogRecord {
    const r = newLogRecord();
    r.observedTimeUnixNano = receivedNs;
    if (isRepresentableUnixNano(msg.timestampNs)) r.timeUnixNano = msg.timestampNs;
    else this.unrepresentableTimes++;
    r.body = msg.message;
    const a = r.attributes;
    if (msg.priority >= 0) {
      const severity = msg.priority & 7;
      r.severityNumber = SEVERITY_NUMBER[severity]!;
      r.severityText = SEVERITY_TEXT[severity]!;
      a['syslog.facility'] = SMALL_INTS[msg.priority >> 3]!;
      a['syslog.severity'] = SMALL_INTS[severity]!;
      a['syslog.priority'] = SMALL_INTS[msg.priority]!;
    }
    if (msg.format !== 'raw') a['syslog.format'] = msg.format;
    if (msg.version) a['syslog.version'] = SMALL_INTS[msg.version] ?? BigInt(msg.version);
    if (msg.appname) a['syslog.appname'] = msg.appname;
    if (msg.procid) a['syslog.procid'] = msg.procid;
    if (msg.msgid) a['syslog.msgid'] = msg.msgid;
    if (msg.structuredData) a['syslog.structured_data'] = msg.structuredData;
    a['network.peer.address'] = peer.address;
    a['network.peer.port'] = peer.port;
    a['network.transport'] = peer.transport;
    if (msg.error) a['syslog.parse_error'] = msg.error;
    if (truncated) a['syslog.truncated'] = true;
    if (this.keepRaw) a['log.record.original'] = raw;
    return r;
  }

  take(): LogBatch {
    const resourceLogs: ResourceLogs[] = [];
    for (const byApp of this.resources.values()) for (const rl of byApp.values()) resourceLogs.push(rl);
    const batch = { resourceLogs };
    this.resources = new Map();
    this.lastResource = undefined;
    this.count = 0;
    return batch;
  }
}
