import { z } from 'zod';
import { hostPort, positiveInt, section } from '../../config/types.js';

const grpcSchema = z.strictObject({
  endpoint: hostPort('0.0.0.0:4317'),
  /** Largest request message accepted, in MiB (after decompression); larger → RESOURCE_EXHAUSTED. */
  max_recv_msg_size_mib: positiveInt(4),
});

const httpSchema = z.strictObject({
  endpoint: hostPort('0.0.0.0:4318'),
  /** Path of the logs endpoint. */
  logs_url_path: z.string().startsWith('/', 'must start with /').default('/v1/logs'),
  /** Largest request body accepted, in bytes, both as sent and after decompression; larger → 413. */
  max_request_body_size: positiveInt(20 * 1024 * 1024),
});

function enabledByName<S extends z.ZodType>(schema: S) {
  return z.preprocess((v) => (v === null ? {} : v), schema.optional());
}

/**
 * As in the OTel Collector, a protocol is enabled by naming it: `grpc:` alone (no value) turns it on
 * with the defaults, and a protocol that is not named stays off.
 */
export const otlpConfigSchema = section({
  protocols: z
    .strictObject({
      grpc: enabledByName(grpcSchema),
      http: enabledByName(httpSchema),
    })
    .refine((p) => p.grpc !== undefined || p.http !== undefined, { message: 'enable at least one protocol: grpc or http' }),
});

export type OtlpReceiverConfig = z.output<typeof otlpConfigSchema>;
export type OtlpGrpcConfig = z.output<typeof grpcSchema>;
export type OtlpHttpConfig = z.output<typeof httpSchema>;
