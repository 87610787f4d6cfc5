import { z } from 'zod';
import { duration, hostPort, positiveInt, section } from '../../config/types.js';
import { authSchema } from '../auth.js';
import { HTTP_TIMEOUTS_MESSAGE, checkHttpTimeouts, httpServerSettings } from '../http.js';
import { tlsServerSchema } from '../tls.js';

/**
 * configgrpc's keepalive.server_parameters; 0 means no limit, as there. max_connection_idle is
 * finite by default (unlike configgrpc's) so that idle connections cannot hold max_connections slots.
 */
const keepaliveSchema = z.strictObject({
  server_parameters: z
    .strictObject({
      /**
       * Close a connection that had no call for this long (with a GOAWAY the client handles: it
       * reconnects when it next sends).
       */
      max_connection_idle: duration('5m'),
      /** Close connections after this long, so clients rebalance across replicas. */
      max_connection_age: duration('0'),
      /** Time calls in flight get to finish once max_connection_age is reached. */
      max_connection_age_grace: duration('0'),
      /** Ping a connection after this long without activity… */
      time: duration('0'),
      /** …and close it when the ping is not answered within this. */
      timeout: duration('0'),
    })
    .prefault({} as never),
});

const grpcSchema = z.strictObject({
  endpoint: hostPort('0.0.0.0:4317'),
  tls: tlsServerSchema.optional(),
  auth: authSchema.optional(),
  /** Largest request message accepted, in MiB (after decompression); larger → RESOURCE_EXHAUSTED. */
  max_recv_msg_size_mib: positiveInt(4),
  /** Calls one connection may have in flight (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  max_concurrent_streams: positiveInt(100),
  /** Connections open at once; more are closed as soon as they are accepted. */
  max_connections: positiveInt(4096),
  /**
   * A new connection must send its first bytes within this, and a client must close its side
   * within this once the server has closed a connection; otherwise the connection is cut (as
   * grpc-go's ConnectionTimeout bounds connection set-up). Frees max_connections slots.
   */
  connection_timeout: duration('10s').refine((ms) => ms > 0, {
    message: 'must be greater than 0 (it frees connections that never send anything)',
  }),
  keepalive: keepaliveSchema.prefault({} as never),
  /**
   * A call that finds the pipeline full waits this long for room (never past the client's deadline
   * less 1 s) before it is refused with RESOURCE_EXHAUSTED; 0 refuses at once. The OTel JS SDK's
   * gRPC exporter does not retry a refusal: waiting is what keeps its logs through an overload.
   */
  wait_for_room: duration('5s'),
});

const httpSchema = z
  .strictObject({
    ...httpServerSettings('0.0.0.0:4318'),
    /** Path of the logs endpoint. */
    logs_url_path: z.string().startsWith('/', 'must start with /').default('/v1/logs'),
  })
  .refine(checkHttpTimeouts, HTTP_TIMEOUTS_MESSAGE);

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
    .refine((p) => p.grpc !== undefined || p.http !== undefined, {
      message: 'enable at least one protocol: grpc or http',
    }),
});

export type OtlpReceiverConfig = z.output<typeof otlpConfigSchema>;
export type OtlpGrpcConfig = z.output<typeof grpcSchema>;
export type OtlpHttpConfig = z.output<typeof httpSchema>;
