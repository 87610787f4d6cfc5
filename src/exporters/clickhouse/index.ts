import { QueuedExporter } from '../../exporterhelper/queued-exporter.js';
import type { ExporterFactory, NewTemplate } from '../../pipeline/component.js';
import { clickhouseConfigSchema, parseEndpoint } from './config.js';
import { ClickHouseLogsSender } from './exporter.js';

export const clickhouseExporterFactory: ExporterFactory<typeof clickhouseConfigSchema> = {
  kind: 'exporter',
  type: 'clickhouse',
  configSchema: clickhouseConfigSchema,
  singleProcess: (config) =>
    parseEndpoint(config.endpoint)?.kind === 'embedded'
      ? 'stores into the embedded ClickHouse engine (chDB), which one process opens at a time; ' +
        'point its endpoint at a ClickHouse server'
      : undefined,
  create: (config, context) => {
    const sender = new ClickHouseLogsSender(config, context);
    // The queue is the component; it also offers the stored templates to the pipeline's processors
    // and the stored logs to readers (the console extension).
    return Object.assign(new QueuedExporter(context, config, sender), {
      loadTemplates: (limit: number) => sender.loadTemplates(limit),
      saveTemplates: (templates: NewTemplate[]) => sender.saveTemplates(templates),
      tables: sender.storeTables,
      sessionSettings: sender.sessionSettings,
      openReader: (database?: string) => sender.openReader(database),
    });
  },
};
