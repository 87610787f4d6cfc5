import { readFileSync } from 'node:fs';
import type { OtlpTlsConfig } from './config.js';

/** One protocol's way of sending an encoded ExportLogsServiceRequest. */
export interface LogsTransport {
  /** Where requests go, for logs and /health. */
  readonly target: string;
  /**
   * Sends once. Resolves, once the server has accepted the request, with the body of its answer
   * (an ExportLogsServiceResponse as the server sent it, undecoded: the exporter decides what an
   * answer it cannot read means); rejects with RetryableExportError or PermanentExportError.
   */
  send(body: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** The PEM files a TLS config names, read once at start. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function readTlsMaterial(tls: OtlpTlsConfig, id: string): TlsMaterial {
  const read = (key: 'ca_file' | 'cert_file' | 'key_file'): Buffer | undefined => {
    const file = tls[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(
        `exporters.${id}.tls.${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  };
  return { ca: read('ca_file'), cert: read('cert_file'), key: read('key_file') };
}
