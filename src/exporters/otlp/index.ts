import type { ExporterFactory } from '../../pipeline/component.js';
import { otlpConfigSchema } from './config.js';
import { QueuedExporter } from '../../exporterhelper/queued-exporter.js';
import { OtlpLogsSender } from './exporter.js';

const grpcDefaultSchema = otlpConfigSchema('grpc');
const httpDefaultSchema = otlpConfigSchema('http/protobuf');

/** `otlp`: forwards to an OTLP server, over gRPC unless `protocol: http/protobuf`. */
export const otlpExporterFactory: ExporterFactory<typeof grpcDefaultSchema> = {
  kind: 'exporter',
  type: 'otlp',
  configSchema: grpcDefaultSchema,
  create: (config, context) => new QueuedExporter(context, config, new OtlpLogsSender(config, context)),
};

/** `otlphttp`: the same exporter over HTTP/protobuf, under the OTel Collector's name for it. */
export const otlpHttpExporterFactory: ExporterFactory<typeof httpDefaultSchema> = {
  kind: 'exporter',
  type: 'otlphttp',
  configSchema: httpDefaultSchema,
  create: (config, context) => new QueuedExporter(context, config, new OtlpLogsSender(config, context)),
};
