import { z } from 'zod';
import { duration, parseHostPort, section } from '../../config/types.js';
import { exporterHelperSettings } from '../../exporterhelper/config.js';

export const PROTOCOLS = ['grpc', 'http/protobuf'] as const;
export type OtlpProtocol = (typeof PROTOCOLS)[number];

/**
 * How a gRPC endpoint is written, as in the OTel Collector's otlp exporter: `host:port` or
 * `dns:///host:port` (TLS unless tls.insecure), `http://host:port` (plaintext), `https://host:port`
 * (TLS).
 */
export interface GrpcTarget {
  /** What grpc-js connects to: `dns:///host:port`, so round_robin sees every address of the name. */
  target: string;
  /** undefined: decided by tls.insecure. */
  secure: boolean | undefined;
}

export function parseGrpcEndpoint(endpoint: string): GrpcTarget | undefined {
  let rest = endpoint.trim();
  let secure: boolean | undefined;
  if (rest.startsWith('http://')) {
    secure = false;
    rest = rest.slice('http://'.length);
  } else if (rest.startsWith('https://')) {
    secure = true;
    rest = rest.slice('https://'.length);
  } else if (rest.startsWith('dns:///')) {
    rest = rest.slice('dns:///'.length);
  }
  rest = rest.replace(/\/$/, '');
  if (rest.startsWith(':') || !parseHostPort(rest)) return undefined;
  return { target: `dns:///${rest}`, secure };
}

/** The full URL of the logs endpoint: `logs_endpoint`, or `endpoint` + /v1/logs. */
export function httpLogsUrl(config: { endpoint: string; logs_endpoint?: string | undefined }): URL | undefined {
  const text = config.logs_endpoint ?? `${config.endpoint.replace(/\/+$/, '')}/v1/logs`;
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname ? url : undefined;
  } catch {
    return undefined;
  }
}

const tlsSchema = section({
  /** gRPC: plaintext to a `host:port` endpoint. (HTTP follows the URL's scheme.) */
  insecure: z.boolean().default(false),
  /** Accept any server certificate. For testing only. */
  insecure_skip_verify: z.boolean().default(false),
  /** CA bundle (PEM) that signs the server's certificate; default: the system's CAs. */
  ca_file: z.string().optional(),
  /** Client certificate and key (PEM) for mutual TLS. */
  cert_file: z.string().optional(),
  key_file: z.string().optional(),
  /** The name the server certificate must carry, when it is not the endpoint's host. */
  server_name_override: z.string().optional(),
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function otlpConfigSchema(defaultProtocol: OtlpProtocol) {
  return section({
    protocol: z.enum(PROTOCOLS, { error: `expected one of ${PROTOCOLS.join(', ')}` }).default(defaultProtocol),
    /** grpc: `host:port` (or `http(s)://host:port`); http/protobuf: the base URL, e.g. http://gateway:4318. */
    endpoint: z
      .string({ error: 'required: the address of the OTLP server, e.g. gateway:4317 or http://gateway:4318' })
      .min(1, 'must not be empty'),
    /** http/protobuf: the full URL of the logs endpoint, instead of endpoint + /v1/logs. */
    logs_endpoint: z.string().optional(),
    compression: z
      .string()
      .default('gzip')
      .refine((v) => v !== 'zstd', {
        message: 'zstd compression needs Node.js 22.15 or newer; use gzip, deflate or none',
      })
      .refine((v) => ['gzip', 'deflate', 'none', 'zstd'].includes(v), { message: 'expected gzip, deflate or none' })
      .transform((v) => v as 'gzip' | 'deflate' | 'none'),
    /** Sent with every request, e.g. { authorization: "Bearer ${env:TOKEN}" }. */
    headers: z
      .record(z.string(), z.string({ error: 'expected a string (quote numbers)' }))
      .default({})
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers))
          if (!HEADER_NAME.test(name))
            ctx.addIssue({ code: 'custom', path: [name], message: 'not a valid header name' });
      }),
    /** One export request's time limit. */
    timeout: duration('10s'),
    tls: tlsSchema,
    /** grpc: spread requests over every address the endpoint's name resolves to, or stick to one. */
    balancer_name: z
      .enum(['round_robin', 'pick_first'], { error: 'expected round_robin or pick_first' })
      .default('round_robin'),
    ...exporterHelperSettings,
  }).superRefine((c, ctx) => {
    if (c.protocol === 'grpc') {
      if (!parseGrpcEndpoint(c.endpoint))
        ctx.addIssue({
          code: 'custom',
          path: ['endpoint'],
          message: 'expected host:port, dns:///host:port or http(s)://host:port',
        });
      if (c.logs_endpoint !== undefined)
        ctx.addIssue({ code: 'custom', path: ['logs_endpoint'], message: 'only for protocol http/protobuf' });
    } else if (!httpLogsUrl(c)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.logs_endpoint === undefined ? 'endpoint' : 'logs_endpoint'],
        message: 'expected an http(s):// URL, e.g. http://gateway:4318',
      });
    }
    if (c.sending_queue.batch !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['sending_queue', 'batch'],
        message: 'not available for the otlp exporter (it forwards requests as they come); use the batch processor',
      });
    if ((c.tls.cert_file === undefined) !== (c.tls.key_file === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', c.tls.cert_file === undefined ? 'cert_file' : 'key_file'],
        message: 'cert_file and key_file go together',
      });
    }
  });
}

export type OtlpExporterConfig = z.output<ReturnType<typeof otlpConfigSchema>>;
export type OtlpTlsConfig = OtlpExporterConfig['tls'];
