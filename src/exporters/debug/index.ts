import type { ExporterFactory } from '../../pipeline/component.js';
import { debugConfigSchema } from './config.js';
import { DebugExporter } from './debug-exporter.js';

export const debugExporterFactory: ExporterFactory<typeof debugConfigSchema> = {
  kind: 'exporter',
  type: 'debug',
  configSchema: debugConfigSchema,
  create: (config, context) => new DebugExporter(config, context),
};
