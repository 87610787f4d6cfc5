import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from './cli.js';
import { helmTemplate } from './helm.js';

/**
 * deploy/k8s/: the chart rendered with its defaults, for people without Helm. `npm run render:k8s`
 * writes them; a test checks the committed files are what the chart renders now.
 */
/** A sidecar runs in every pod of the app: smaller than an agent or a gateway. */
export const SIDECAR_VALUES = { mode: 'sidecar', resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } } };

export const MANIFESTS: Array<{ file: string; values: Record<string, unknown>; release: string; namespace: string; command: string }> = [
  {
    file: 'deploy/k8s/agent.yaml',
    values: { mode: 'daemonset' },
    release: 'otelhouse-agent',
    namespace: 'observability',
    command: 'helm template otelhouse-agent helm/otelhouse -n observability --set mode=daemonset',
  },
  {
    file: 'deploy/k8s/gateway.yaml',
    values: { mode: 'deployment' },
    release: 'otelhouse-gateway',
    namespace: 'observability',
    command: 'helm template otelhouse-gateway helm/otelhouse -n observability --set mode=deployment',
  },
  {
    file: 'deploy/k8s/sidecar/otelhouse-config.yaml',
    values: SIDECAR_VALUES,
    release: 'otelhouse-sidecar',
    namespace: 'default',
    command: 'helm template otelhouse-sidecar helm/otelhouse -n default --set mode=sidecar --set resources.requests.cpu=50m --set resources.requests.memory=128Mi --set resources.limits.memory=256Mi',
  },
];

export function renderManifest(m: (typeof MANIFESTS)[number]): string {
  const header = `# Rendered from the chart's defaults by \`npm run render:k8s\`; do not edit by hand.\n# Equivalent: ${m.command}\n`;
  return header + helmTemplate(m.values, { release: m.release, namespace: m.namespace });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const m of MANIFESTS) {
    writeFileSync(join(PROJECT_ROOT, m.file), renderManifest(m));
    console.log(`wrote ${m.file}`);
  }
}
