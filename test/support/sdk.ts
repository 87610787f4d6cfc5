import { context, trace, TraceFlags } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { OTLPLogExporter as HttpJsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as HttpProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';

export type SdkProtocol = 'grpc' | 'http/protobuf' | 'http/json';
export const SDK_PROTOCOLS: SdkProtocol[] = ['grpc', 'http/protobuf', 'http/json'];

export function sdkExporter(protocol: SdkProtocol, ports: { grpcPort: number; httpPort: number }): LogRecordExporter {
  switch (protocol) {
    case 'grpc':
      // gzip on gRPC: the receiver must accept compressed messages.
      return new GrpcLogExporter({ url: `http://127.0.0.1:${ports.grpcPort}`, compression: CompressionAlgorithm.GZIP });
    case 'http/protobuf':
      return new HttpProtoLogExporter({ url: `http://127.0.0.1:${ports.httpPort}/v1/logs`, compression: CompressionAlgorithm.GZIP });
    case 'http/json':
      return new HttpJsonLogExporter({ url: `http://127.0.0.1:${ports.httpPort}/v1/logs` });
  }
}

/** What one emitted record should look like as an otel_logs row. */
export interface ExpectedRow {
  ts: string;
  observed: string;
  TraceId: string;
  SpanId: string;
  TraceFlags: number;
  SeverityText: string;
  SeverityNumber: number;
  ServiceName: string;
  Body: string;
  ResourceAttributes: Record<string, string>;
  ScopeName: string;
  ScopeVersion: string;
  ScopeAttributes: Record<string, string>;
  LogAttributes: Record<string, string>;
  EventName: string;
}

const BASE_SECONDS = 1_700_000_000;

/**
 * Emits `count` records through the real OTel JS SDK over one protocol, with every AnyValue kind
 * among the attributes, trace context, nanosecond timestamps and an event name, and returns the
 * rows ClickHouse should hold for them (values rendered as the contrib exporter renders them).
 */
export async function emitWithSdk(protocol: SdkProtocol, ports: { grpcPort: number; httpPort: number }, count: number): Promise<ExpectedRow[]> {
  const service = `sdk-${protocol.replace('/', '-')}`;
  const resource = resourceFromAttributes({ 'service.name': service, 'host.name': 'node-7', 'k8s.pod.name': 'api-0', 'process.pid': 4242, 'cloud.region.weight': 0.25 });
  const provider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: sdkExporter(protocol, ports), maxExportBatchSize: 50, scheduledDelayMillis: 20 })] });
  const logger = provider.getLogger('checkout-scope', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
  const expected: ExpectedRow[] = [];
  for (let i = 0; i < count; i++) {
    const traceId = (0x1000 + i).toString(16).padStart(32, 'a');
    const spanId = (0x2000 + i).toString(16).padStart(16, 'b');
    const ctx = trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: false });
    const nanos = 123_456_789 + i;
    const structured = i % 10 === 9;
    logger.emit({
      timestamp: [BASE_SECONDS, nanos],
      observedTimestamp: [BASE_SECONDS + 1, 1 + i],
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      body: structured ? { event: 'checkout', items: [1, 2], ok: true } : `payment ${i} took ${i * 3}ms for "user-${i}" ✓`,
      eventName: i % 2 === 0 ? 'checkout.done' : '',
      attributes: {
        'str.attr': `value-${i}`,
        'int.attr': 42 + i,
        'double.attr': 1.5,
        'bool.attr': true,
        'bytes.attr': new Uint8Array([0, 1, 2, 255]),
        'array.attr': [1, 'a', true],
        'kvlist.attr': { nested: { deep: 'x' }, n: 7 },
        seq: i,
      },
      context: ctx,
    });
    expected.push({
      ts: (BigInt(BASE_SECONDS) * 1_000_000_000n + BigInt(nanos)).toString(),
      observed: (BigInt(BASE_SECONDS + 1) * 1_000_000_000n + BigInt(1 + i)).toString(),
      TraceId: traceId,
      SpanId: spanId,
      TraceFlags: 1,
      SeverityText: 'WARN',
      SeverityNumber: 13,
      ServiceName: service,
      Body: structured ? '{"event":"checkout","items":[1,2],"ok":true}' : `payment ${i} took ${i * 3}ms for "user-${i}" ✓`,
      ResourceAttributes: { 'cloud.region.weight': '0.25', 'host.name': 'node-7', 'k8s.pod.name': 'api-0', 'process.pid': '4242', 'service.name': service },
      ScopeName: 'checkout-scope',
      ScopeVersion: '1.2.3',
      ScopeAttributes: {},
      LogAttributes: {
        'array.attr': '[1,"a",true]',
        'bool.attr': 'true',
        'bytes.attr': 'AAEC/w==',
        'double.attr': '1.5',
        'int.attr': String(42 + i),
        'kvlist.attr': '{"nested":{"deep":"x"},"n":7}',
        seq: String(i),
        'str.attr': `value-${i}`,
      },
      EventName: i % 2 === 0 ? 'checkout.done' : '',
    });
  }
  await provider.forceFlush();
  await provider.shutdown();
  return expected;
}

/** Reads back the rows of one service in the shape of ExpectedRow, ordered by seq. */
export const SELECT_ROWS = (database: string, service: string) => `
SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ts, toString(toUnixTimestamp64Nano(ObservedTimestamp)) AS observed,
       TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes,
       ScopeName, ScopeVersion, ScopeAttributes, LogAttributes, EventName
FROM ${database}.otel_logs WHERE ServiceName = '${service}' ORDER BY toUInt64(LogAttributes['seq'])`;
