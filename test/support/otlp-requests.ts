import * as grpc from '@grpc/grpc-js';
import { newAttributes, newLogRecord, type LogBatch } from '../../src/pipeline/model.js';

/**
 * `length` letters that zstd cannot shrink much (the queue stores rows compressed), the same for
 * the same seq: padding meant to take bytes in the queue has to take them there too.
 */
function incompressible(seq: number, length: number): string {
  const letters = new Array<string>(length);
  let x = (seq * 2654435761 + 1) >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    letters[i] = String.fromCharCode(0x61 + ((x >>> 0) % 26));
  }
  return letters.join('');
}

/**
 * A batch of `count` records tagged with `seq` = first…first+count-1, as a load generator sends;
 * `padding` adds an attribute of that many bytes to each.
 */
export function numberedBatch(first: number, count: number, service = 'loadgen', padding = 0): LogBatch {
  const resourceAttrs = newAttributes();
  resourceAttrs['service.name'] = service;
  resourceAttrs['host.name'] = 'bench-host';
  const logRecords = [];
  for (let i = 0; i < count; i++) {
    const r = newLogRecord();
    const seq = first + i;
    r.timeUnixNano = 1_700_000_000_000_000_000n + BigInt(seq);
    r.observedTimeUnixNano = r.timeUnixNano + 1000n;
    r.severityNumber = 9;
    r.severityText = 'INFO';
    r.body = `request ${seq} served in ${seq % 97}ms from 10.0.${seq % 255}.${seq % 7}`;
    r.attributes['seq'] = BigInt(seq);
    r.attributes['http.route'] = '/api/orders/{id}';
    if (padding > 0) r.attributes['padding'] = incompressible(seq, padding);
    r.traceId = seq.toString(16).padStart(32, '0');
    r.spanId = seq.toString(16).padStart(16, '0');
    logRecords.push(r);
  }
  return {
    resourceLogs: [
      {
        resource: { attributes: resourceAttrs, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeLogs: [{ scope: { name: 'loadgen', version: '1', attributes: newAttributes(), droppedAttributesCount: 0 }, schemaUrl: '', logRecords }],
      },
    ],
  };
}

const EXPORT_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
const identity = (b: Buffer) => b;

/**
 * One OTLP/gRPC Export call with grpc-js, body as given (valid or not); resolves with the status,
 * never rejects. Plain text unless credentials are given.
 */
export function grpcExport(
  port: number,
  body: Uint8Array,
  options: { credentials?: grpc.ChannelCredentials; metadata?: Record<string, string> } = {},
): Promise<{ code: grpc.status; details: string }> {
  const Client = grpc.makeGenericClientConstructor({}, 'LogsService');
  const client = new Client(`127.0.0.1:${port}`, options.credentials ?? grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(EXPORT_PATH, identity, identity, Buffer.from(body), metadata, { deadline: Date.now() + 30_000 }, (err: grpc.ServiceError | null) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' });
    });
  });
}
