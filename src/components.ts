import { clickhouseExporterFactory } from './exporters/clickhouse/index.js';
import { debugExporterFactory } from './exporters/debug/index.js';
import { otlpExporterFactory, otlpHttpExporterFactory } from './exporters/otlp/index.js';
import { ComponentRegistry } from './pipeline/registry.js';
import { batchProcessorFactory } from './processors/batch/index.js';
import { templatesProcessorFactory } from './processors/templates/index.js';
import { jsonIngestReceiverFactory } from './receivers/json_ingest/index.js';
import { otlpReceiverFactory } from './receivers/otlp/index.js';
import { syslogReceiverFactory } from './receivers/syslog/index.js';

/** Every component type this build of otelhouse offers. */
export function builtinComponents(): ComponentRegistry {
  return new ComponentRegistry()
    .register(otlpReceiverFactory)
    .register(jsonIngestReceiverFactory)
    .register(syslogReceiverFactory)
    .register(batchProcessorFactory)
    .register(templatesProcessorFactory)
    .register(clickhouseExporterFactory)
    .register(otlpExporterFactory)
    .register(otlpHttpExporterFactory)
    .register(debugExporterFactory);
}
