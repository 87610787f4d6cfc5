import { QueuedExporter } from '../../exporterhelper/queued-exporter.js';
import type { ExporterFactory, NewTemplate } from '../../pipeline/component.js';
import { clickhouseConfigSchema } from './config.js';
import { ClickHouseLogsSender } from './exporter.js';

export const clickhouseExporterFactory: ExporterFactory<typeof clickhouseConfigSchema> = {
  kind: 'exporter',
  type: 'clickhouse',
  configSchema: clickhouseConfigSchema,
  create: (config, context) => {
    const sender = new ClickHouseLogsSender(config, context);
    // The queue is the component; it also offers the stored templates to the pipeline's processors.
    return Object.assign(new QueuedExporter(context, config, sender), {
      loadTemplates: (limit: number) => sender.loadTemplates(limit),
      saveTemplates: (templates: NewTemplate[]) => sender.saveTemplates(templates),
    });
  },
};
