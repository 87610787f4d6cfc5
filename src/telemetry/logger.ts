import { pino, type Logger, type Level } from 'pino';

export type LogLevel = Level;

/** The daemon's own logs: JSON lines on stderr, so stdout stays free for the debug exporter. */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino(
    { level, base: { service: 'otelhouse' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: false }),
  );
}
