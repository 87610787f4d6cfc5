import { clickhouseExporterFactory } from './exporters/clickhouse/index.js';
import { debugExporterFactory } from './exporters/debug/index.js';
import { bearerTokenAuthExtensionFactory } from './extensions/bearertokenauth/index.js';
import { consoleExtensionFactory } from './extensions/console/index.js';
import { otlpExporterFactory, otlpHttpExporterFactory } from './exporters/otlp/index.js';
import { ComponentRegistry } from './pipeline/registry.js';
import { attributesProcessorFactory } from './processors/attributes/index.js';
import { batchProcessorFactory } from './processors/batch/index.js';
import { filterProcessorFactory } from './processors/filter/index.js';
import { memoryLimiterProcessorFactory } from './processors/memory_limiter/index.js';
import { parseProcessorFactory } from './processors/parse/index.js';
import { redactionProcessorFactory } from './processors/redaction/index.js';
import { resourceDetectionProcessorFactory } from './processors/resourcedetection/index.js';
import { resourceProcessorFactory } from './processors/resource/index.js';
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
    .register(memoryLimiterProcessorFactory)
    .register(batchProcessorFactory)
    .register(templatesProcessorFactory)
    .register(attributesProcessorFactory)
    .register(resourceProcessorFactory)
    .register(filterProcessorFactory)
    .register(redactionProcessorFactory)
    .register(parseProcessorFactory)
    .register(resourceDetectionProcessorFactory)
    .register(clickhouseExporterFactory)
    .register(otlpExporterFactory)
    .register(otlpHttpExporterFactory)
    .register(debugExporterFactory)
    .register(bearerTokenAuthExtensionFactory)
    .register(consoleExtensionFactory);
}
