/** How times, counts and severities are shown; all times in UTC, as the API gives them. */

/**
 * `2026-12-02T05:30:00.123456789Z` → `2026-12-02 05:30:00.123`; no time (a template not seen in the
 * range) → `—`
 */
export function shortTime(rfc3339: string | null): string {
  if (rfc3339 === null) return '—';
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(rfc3339);
  if (!match) return rfc3339;
  return `${match[1]} ${match[2]}${(match[3] ?? '.').padEnd(4, '0')}`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function change(ratio: number | null): string {
  if (ratio === null) return '—';
  const percent = (ratio - 1) * 100;
  if (Math.abs(percent) < 0.5) return '±0%';
  if (percent >= 1000) return `×${ratio.toFixed(0)}`;
  return `${percent > 0 ? '+' : ''}${percent.toFixed(0)}%`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
}

/** The severity level of an OpenTelemetry SeverityNumber (1–4 TRACE, 5–8 DEBUG, …, 21–24 FATAL). */
export function severityLevel(severityNumber: number, severityText = ''): string {
  if (severityNumber >= 1 && severityNumber <= 24)
    return ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'][Math.floor((severityNumber - 1) / 4)]!;
  return severityText.toUpperCase() || 'UNSPECIFIED';
}

export const SEVERITY_COLORS: Record<string, string> = {
  TRACE: '#a0a7b4',
  DEBUG: '#7aa2d6',
  INFO: '#4c9a6a',
  WARN: '#d9a21b',
  ERROR: '#d6453d',
  FATAL: '#8e1b5c',
  UNSPECIFIED: '#c3c7cf',
};

/** ISO date-times in UTC as the custom range inputs show them: `2026-12-02 05:30:00`. */
export function unixToInput(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** Unix seconds → RFC 3339, what the API takes in `from`/`to`. */
export function unixToRfc3339(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString();
}
