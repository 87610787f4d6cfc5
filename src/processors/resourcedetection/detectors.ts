import { readFile } from 'node:fs/promises';
import { promises as dns } from 'node:dns';
import { arch, hostname, platform, release, type } from 'node:os';

/** What a detector found: resource attribute → value, in the order found. */
export type Detected = Array<[key: string, value: string]>;

/**
 * OTEL_RESOURCE_ATTRIBUTES (`key=value,key2=value2`, values percent-decoded, as the OTel SDKs read
 * it) and OTEL_SERVICE_NAME, which wins over a service.name in the former (the spec's rule).
 * Malformed pairs are skipped and reported.
 */
export function detectEnv(env: NodeJS.ProcessEnv, warn: (message: string) => void): Detected {
  const out = new Map<string, string>();
  const raw = env.OTEL_RESOURCE_ATTRIBUTES?.trim();
  if (raw) {
    for (const pair of raw.split(',')) {
      if (pair.trim() === '') continue;
      const eq = pair.indexOf('=');
      const key = eq > 0 ? pair.slice(0, eq).trim() : '';
      if (!key) {
        warn(`OTEL_RESOURCE_ATTRIBUTES: skipped ${JSON.stringify(pair)} (expected key=value)`);
        continue;
      }
      try {
        out.set(key, decodeURIComponent(pair.slice(eq + 1).trim()));
      } catch {
        warn(`OTEL_RESOURCE_ATTRIBUTES: skipped ${JSON.stringify(key)} (bad percent-encoding)`);
      }
    }
  }
  const service = env.OTEL_SERVICE_NAME?.trim();
  if (service) out.set('service.name', service);
  return [...out];
}

const OS_TYPES: Record<string, string> = { win32: 'windows', sunos: 'solaris' };
const ARCHS: Record<string, string> = {
  x64: 'amd64',
  ia32: 'x86',
  arm: 'arm32',
  ppc64: 'ppc64',
  s390x: 's390x',
  arm64: 'arm64',
};

export const SYSTEM_ATTRIBUTES = ['host.name', 'host.id', 'host.arch', 'os.type', 'os.description'] as const;
export const HOSTNAME_SOURCES = ['os', 'dns'] as const;

async function machineId(): Promise<string | undefined> {
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = (await readFile(file, 'utf8')).trim();
      if (id) return id;
    } catch {
      // try the next location
    }
  }
  return undefined;
}

/** The host's fully qualified name from the resolver (the OTel system detector's `dns` source). */
async function dnsHostname(): Promise<string | undefined> {
  const { address } = await dns.lookup(hostname());
  const names = await dns.reverse(address);
  return names.find((n) => n.includes('.')) ?? names[0];
}

/** host.* and os.* of the machine this daemon runs on, as the OTel Collector's system detector names them. */
export async function detectSystem(
  enabled: Set<string>,
  hostnameSources: readonly string[],
  warn: (message: string) => void,
): Promise<Detected> {
  const out: Detected = [];
  if (enabled.has('host.name')) {
    for (const source of hostnameSources) {
      try {
        const name = source === 'dns' ? await dnsHostname() : hostname();
        if (name) {
          out.push(['host.name', name]);
          break;
        }
      } catch (err) {
        warn(`system: hostname source ${source} failed: ${(err as Error).message}`);
      }
    }
  }
  if (enabled.has('host.id')) {
    const id = await machineId();
    if (id) out.push(['host.id', id]);
  }
  if (enabled.has('host.arch')) out.push(['host.arch', ARCHS[arch()] ?? arch()]);
  if (enabled.has('os.type')) out.push(['os.type', OS_TYPES[platform()] ?? platform()]);
  if (enabled.has('os.description')) out.push(['os.description', `${type()} ${release()}`]);
  return out;
}

export const K8S_ATTRIBUTES = ['k8s.node.name', 'k8s.pod.name', 'k8s.namespace.name', 'k8s.pod.uid'] as const;

/** k8s.* of this pod, from the Downward API variables the Helm chart sets (variable names configurable). */
export function detectK8s(
  env: NodeJS.ProcessEnv,
  variables: Record<(typeof K8S_ATTRIBUTES)[number], string>,
  enabled: Set<string>,
): Detected {
  const out: Detected = [];
  for (const attribute of K8S_ATTRIBUTES) {
    if (!enabled.has(attribute)) continue;
    const value = env[variables[attribute]]?.trim();
    if (value) out.push([attribute, value]);
  }
  return out;
}
