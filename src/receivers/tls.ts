import { readFile } from 'node:fs/promises';
import {
  createSecureContext,
  type SecureContextOptions,
  type SecureVersion,
  type Server as TlsServer,
  type TlsOptions,
} from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { z } from 'zod';
import { FileChangeWatcher } from '../internal/file-watch.js';
import { duration } from '../config/types.js';
import { errorMessage } from '../pipeline/errors.js';

const TLS_VERSIONS = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' } as const satisfies Record<
  string,
  SecureVersion
>;
const tlsVersion = z.enum(Object.keys(TLS_VERSIONS) as [keyof typeof TLS_VERSIONS], {
  error: 'expected "1.0", "1.1", "1.2" or "1.3"',
});

/**
 * A receiver's `tls:` block, with the OTel Collector's configtls server keys. The certificate,
 * key and client CA files are checked for changes every `reload_interval` and re-read when they
 * change: new connections get the new certificate, open ones keep theirs.
 */
export const tlsServerSchema = z
  .strictObject({
    cert_file: z.string().min(1, 'cannot be empty').optional(),
    key_file: z.string().min(1, 'cannot be empty').optional(),
    /** The certificate or key inline (e.g. `${env:TLS_CERT}`), instead of a file; never reloaded. */
    cert_pem: z.string().min(1, 'cannot be empty').optional(),
    key_pem: z.string().min(1, 'cannot be empty').optional(),
    /** Clients must present a certificate signed by this CA (mutual TLS). */
    client_ca_file: z.string().min(1, 'cannot be empty').optional(),
    min_version: tlsVersion.default('1.2'),
    max_version: tlsVersion.optional(),
    /** How often the files are checked for changes; 0: never (a restart picks up new files). */
    reload_interval: duration('10s'),
  })
  .refine((c) => (c.cert_file === undefined) !== (c.cert_pem === undefined), {
    message: 'set one of cert_file or cert_pem',
    path: ['cert_file'],
  })
  .refine((c) => (c.key_file === undefined) !== (c.key_pem === undefined), {
    message: 'set one of key_file or key_pem',
    path: ['key_file'],
  })
  .refine((c) => c.max_version === undefined || Number(c.max_version) >= Number(c.min_version), {
    message: 'must not be below min_version',
    path: ['max_version'],
  });

export type TlsServerConfig = z.output<typeof tlsServerSchema>;

/** The longest a client may take to complete a TLS handshake (a slowloris guard before any request). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * A receiver's certificate, key and client CA, read from the config's files, re-read when they
 * change, and pushed to the listeners (TLS servers, gRPC credentials). A change that does not make
 * a valid context (a certificate whose key is not written yet) keeps the current one and is
 * retried at the next change.
 */
export class ServerTlsCredentials {
  private current: SecureContextOptions | undefined;
  private readonly listeners: Array<(options: SecureContextOptions) => void> = [];
  private watcher: FileChangeWatcher | undefined;

  constructor(
    private readonly config: TlsServerConfig,
    private readonly logger: Logger,
  ) {}

  get mutual(): boolean {
    return this.config.client_ca_file !== undefined;
  }

  /** Reads the files; throws naming the file or the problem. Then watches them for changes. */
  async start(): Promise<void> {
    this.current = await this.load();
    const files = [this.config.cert_file, this.config.key_file, this.config.client_ca_file].filter(
      (f): f is string => f !== undefined,
    );
    if (files.length === 0 || this.config.reload_interval === 0) return;
    this.watcher = new FileChangeWatcher(files, this.config.reload_interval, () => void this.reload());
    await this.watcher.start();
  }

  stop(): void {
    this.watcher?.stop();
  }

  /** Options for a TLS (or HTTPS, HTTP/2) server: the context plus the client-certificate policy. */
  serverOptions(handshakeTimeoutMs: number): TlsOptions {
    return { ...this.contextOptions(), ...this.peerOptions(), handshakeTimeout: handshakeTimeoutMs };
  }

  /** Applies every reload to the server, for the connections it accepts next; reports failed handshakes. */
  attach(server: TlsServer, onHandshakeFailure: () => void): void {
    this.listeners.push((options) => server.setSecureContext(options));
    server.on('tlsClientError', onHandshakeFailure);
  }

  /** gRPC server credentials that follow reloads. */
  grpcCredentials(handshakeTimeoutMs: number): grpc.ServerCredentials {
    const credentials = new ReloadingGrpcServerCredentials(
      { ...this.peerOptions(), handshakeTimeout: handshakeTimeoutMs },
      this.contextOptions(),
    );
    this.listeners.push((options) => credentials.update(options));
    return credentials;
  }

  private contextOptions(): SecureContextOptions {
    if (!this.current) throw new Error('TLS credentials used before start()');
    return this.current;
  }

  private peerOptions(): TlsOptions {
    return this.mutual ? { requestCert: true, rejectUnauthorized: true } : { requestCert: false };
  }

  private async load(): Promise<SecureContextOptions> {
    const read = async (
      file: string | undefined,
      inline: string | undefined,
      what: string,
    ): Promise<Buffer | undefined> => {
      if (file === undefined) return inline === undefined ? undefined : Buffer.from(inline);
      try {
        return await readFile(file);
      } catch (err) {
        throw new Error(`cannot read TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
      }
    };
    const [cert, key, ca] = await Promise.all([
      read(this.config.cert_file, this.config.cert_pem, 'certificate'),
      read(this.config.key_file, this.config.key_pem, 'key'),
      read(this.config.client_ca_file, undefined, 'client CA'),
    ]);
    const options: SecureContextOptions = {
      cert,
      key,
      ...(ca ? { ca } : {}),
      minVersion: TLS_VERSIONS[this.config.min_version],
      ...(this.config.max_version ? { maxVersion: TLS_VERSIONS[this.config.max_version] } : {}),
    };
    try {
      createSecureContext(options);
    } catch (err) {
      throw new Error(
        `invalid TLS certificate, key or CA ` +
          `(${this.config.cert_file ?? 'cert_pem'}, ${this.config.key_file ?? 'key_pem'}): ${errorMessage(err)}`,
      );
    }
    return options;
  }

  private async reload(): Promise<void> {
    let options: SecureContextOptions;
    try {
      options = await this.load();
    } catch (err) {
      this.logger.error(
        { err: errorMessage(err) },
        'TLS files changed but cannot be used; keeping the current certificate',
      );
      return;
    }
    this.current = options;
    for (const listener of this.listeners) listener(options);
    this.logger.info({ cert_file: this.config.cert_file }, 'TLS certificate reloaded');
  }
}

/** grpc-js applies each update to its HTTP/2 servers with setSecureContext. */
class ReloadingGrpcServerCredentials extends grpc.ServerCredentials {
  update(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}
