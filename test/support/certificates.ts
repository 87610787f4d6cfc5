import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/**
 * A CA, a server certificate for 127.0.0.1 (ca.crt, server.crt/.key) and a client certificate
 * (client.crt/.key) signed by it, made with openssl in `dir`.
 */
export function makeCertificates(dir: string): void {
  writeFileSync(`${dir}/san.cnf`, 'subjectAltName=IP:127.0.0.1\n');
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=otelhouse test CA');
  for (const name of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? '127.0.0.1' : 'otelhouse test client'}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...(name === 'server' ? ['-extfile', 'san.cnf'] : []));
  }
}
