import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseExporterConfig } from './config.js';
import { sqlString } from './row-encoder.js';

/**
 * The DDL lives in .sql files beside the exporter, as in the OTel contrib exporter, so users can
 * read them and apply them by hand. The build does not copy them: they are read from src/, which
 * ships in the package.
 */
const SQL_DIR = fileURLToPath(new URL('../../../../src/exporters/clickhouse/sql/', import.meta.url));

function ttlClause(ttlMs: number): string {
  if (ttlMs <= 0) return '';
  const seconds = Math.max(1, Math.round(ttlMs / 1000));
  if (seconds % 86_400 === 0) return `TTL TimestampTime + toIntervalDay(${seconds / 86_400})`;
  if (seconds % 3_600 === 0) return `TTL TimestampTime + toIntervalHour(${seconds / 3_600})`;
  return `TTL TimestampTime + toIntervalSecond(${seconds})`;
}

function hourlyTtlClause(ttlMs: number): string {
  if (ttlMs <= 0) return '';
  // Hourly counts are small: they outlive the logs, for at least 30 days.
  return `TTL Hour + toIntervalDay(${Math.max(30, Math.ceil(ttlMs / 86_400_000))})`;
}

function render(file: string, values: Record<string, string>): string {
  const text = readFileSync(`${SQL_DIR}${file}`, 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('--'))
    .join('\n');
  return text.replace(/\{([a-z_]+)\}/g, (m, key: string) => values[key] ?? m).trim();
}

function schemaValues(config: ClickHouseExporterConfig): Record<string, string> {
  return {
    database: config.database,
    table: config.logs_table_name,
    engine: config.table_engine,
    templates_table: config.templates_table_name,
    ttl: ttlClause(config.ttl),
    ttl_hourly: hourlyTtlClause(config.ttl),
    on_cluster: '',
    // The dictionaries read the tables through the server's own connection, as this user.
    source_user: sqlString(config.username),
    source_password: sqlString(config.password),
  };
}

/** The statements create_schema runs, in order; each is idempotent. */
export function schemaStatements(config: ClickHouseExporterConfig): string[] {
  const values = schemaValues(config);
  return [
    'database.sql',
    'otel_logs.sql',
    'log_templates.sql',
    'log_templates_source.sql',
    'templates_hourly.sql',
    'templates_hourly_mv.sql',
    'log_templates_lineage.sql',
    'log_templates_lineage_mv.sql',
    'log_templates_lineage_dict.sql',
    'log_templates_text_dict.sql',
    'otel_logs_current_template.sql',
    'templates_hourly_current_template.sql',
  ].map((f) => render(f, values));
}

/**
 * The text index on lower(Body) and the removal of the tokenbf index it replaces, in order, run
 * after schemaStatements: a server older than 26.2 refuses the first, and keeps tokenbf.
 */
export function bodyTextIndexStatements(config: ClickHouseExporterConfig): string[] {
  return render('otel_logs_body_text_index.sql', schemaValues(config))
    .split(/;\s*\n/)
    .map((statement) => statement.trim());
}

/** The merge settings of the logs table, run after schemaStatements; a server may refuse them. */
export function mergeSettingsStatement(config: ClickHouseExporterConfig): string {
  return render('otel_logs_merge_settings.sql', schemaValues(config));
}

/** The part format of the logs table in embedded storage, run after mergeSettingsStatement. */
export function embeddedPartsStatement(config: ClickHouseExporterConfig): string {
  return render('otel_logs_embedded_parts.sql', schemaValues(config));
}
