import type { ExporterFactory, NewTemplate } from '../../pipeline/component.js';
import { clickhouseConfigSchema } from './config.js';
import { ClickHouseLogsExporter } from './exporter.js';

export const clickhouseExporterFactory: ExporterFactory<typeof clickhouseConfigSchema> = {
  kind: 'exporter',
  type: 'clickhouse',
  configSchema: clickhouseConfigSchema,
  create: (config, context) => {
    const exporter = new ClickHouseLogsExporter(config, context);
    // The queue is the component; it also offers the stored templates to the pipeline's processors
    // and the stored logs to readers (the console extension).
    return Object.assign(exporter.queue, {
      loadTemplates: (limit: number) => exporter.loadTemplates(limit),
      saveTemplates: (templates: NewTemplate[]) => exporter.saveTemplates(templates),
      tables: exporter.storeTables,
      sessionSettings: exporter.sessionSettings,
      openReader: (database?: string) => exporter.openReader(database),
    });
  },
};
