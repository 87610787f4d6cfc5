import type { ExporterFactory } from '../../pipeline/component.js';
import { clickhouseConfigSchema } from './config.js';
import { ClickHouseLogsExporter } from './exporter.js';

export const clickhouseExporterFactory: ExporterFactory<typeof clickhouseConfigSchema> = {
  kind: 'exporter',
  type: 'clickhouse',
  configSchema: clickhouseConfigSchema,
  create: (config, context) => new ClickHouseLogsExporter(config, context).queue,
};
