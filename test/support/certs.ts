import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM files made with openssl for one test: a CA, certificates it signs, their keys. */
export interface CertificateFiles {
  dir: string;
  /** Path of `<name>.crt` / `<name>.key` in dir. */
  crt(name: string): string;
  key(name: string): string;
  read(file: string): Buffer;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A self-signed CA named `name` (EC P-256 keys: quick to make). */
export function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=otelhouse test ${name}`,
  );
}

/**
 * A certificate `name` signed by CA `ca`: a server certificate for 127.0.0.1 and localhost, or a
 * client certificate. Each has its own serial, so a test can tell two certificates apart.
 */
export function issueCertificate(dir: string, name: string, ca: string, kind: 'server' | 'client'): void {
  writeFileSync(join(dir, `${name}.ext`), kind === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
  openssl(
    dir,
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${kind === 'server' ? '127.0.0.1' : `client ${name}`}`,
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    String(Date.now() * 1000 + Math.floor(Math.random() * 1000)),
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

/** A CA `ca`, a server certificate `server` and a client certificate `client` signed by it. */
export function makeCertificates(dir: string): CertificateFiles {
  makeCa(dir, 'ca');
  issueCertificate(dir, 'server', 'ca', 'server');
  issueCertificate(dir, 'client', 'ca', 'client');
  return {
    dir,
    crt: (name) => join(dir, `${name}.crt`),
    key: (name) => join(dir, `${name}.key`),
    read: (file) => readFileSync(file),
  };
}
