import { z } from 'zod';
import { duration, hostPort, positiveInt, section } from '../../config/types.js';
import { tlsServerSchema } from '../tls.js';
import { isValidTimeZone } from '../../internal/time-zones.js';

const tcpSchema = z.strictObject({
  listen_address: hostPort('0.0.0.0:5514'),
  /** RFC 5425 syslog over TLS; client_ca_file requires client certificates (mutual TLS). */
  tls: tlsServerSchema.optional(),
  max_connections: positiveInt(1024),
  /**
   * Close a connection that sent nothing for this long (not counting time the receiver itself
   * holds it under back-pressure), so idle senders cannot hold max_connections slots; 0: never.
   * rsyslog and syslog-ng notice the close and reconnect before their next message.
   */
  idle_timeout: duration('5m'),
});

const udpSchema = z.strictObject({
  listen_address: hostPort('0.0.0.0:5514'),
});

function enabledByName<S extends z.ZodType>(schema: S) {
  return z.preprocess((v) => (v === null ? {} : v), schema.optional());
}

export const syslogConfigSchema = section({
  /** A transport is on when named, as in the OTel Collector's syslog receiver. */
  tcp: enabledByName(tcpSchema),
  udp: enabledByName(udpSchema),
  protocol: z.enum(['rfc5424', 'rfc3164', 'auto'], { error: 'expected rfc5424, rfc3164 or auto' }).default('auto'),
  /** IANA time zone of BSD (RFC 3164) timestamps, which carry none. */
  location: z.string().default('UTC').refine(isValidTimeZone, { message: 'not an IANA time zone (e.g. Europe/Paris)' }),
  /** Year of BSD timestamps, which carry none; default: the current one. */
  year: z.number().int().min(1970).max(9999).optional(),
  /** Longest message in bytes; longer ones are truncated or dropped (on_oversize), and counted. */
  max_message_size: positiveInt(64 * 1024),
  on_oversize: z.enum(['truncate', 'drop'], { error: 'expected truncate or drop' }).default('truncate'),
  /** Keep the whole received line in the attribute log.record.original. */
  keep_raw: z.boolean().default(false),
}).refine((c) => c.tcp !== undefined || c.udp !== undefined, { message: 'enable at least one transport: tcp or udp' });

export type SyslogConfig = z.output<typeof syslogConfigSchema>;
