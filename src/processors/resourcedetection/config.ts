import { z } from 'zod';
import { duration, section } from '../../config/types.js';
import { HOSTNAME_SOURCES, K8S_ATTRIBUTES, SYSTEM_ATTRIBUTES } from './detectors.js';

const DETECTORS = ['env', 'system', 'k8s'] as const;

const toggle = (enabled: boolean) => section({ enabled: z.boolean().default(enabled) });

/** The OTel Collector's `resource_attributes: { name: { enabled } }` map for a detector's attributes. */
function attributeToggles<const K extends readonly string[]>(names: K, onByDefault: readonly string[]) {
  return section(
    Object.fromEntries(names.map((n) => [n, toggle(onByDefault.includes(n))])) as {
      [P in K[number]]: ReturnType<typeof toggle>;
    },
  );
}

export const resourceDetectionConfigSchema = section({
  /** Detectors run in order; when two find the same attribute, the first one wins. */
  detectors: z
    .array(z.enum(DETECTORS, { error: `expected one of ${DETECTORS.join(', ')}` }), {
      error: 'expected a list of detectors',
    })
    .min(1, 'name at least one detector')
    .default(['env']),
  /** true: detected values replace attributes the data already has; false: only fill in missing ones. */
  override: z.boolean().default(true),
  /** Time allowed for detection at start-up (the dns hostname source). */
  timeout: duration('2s'),
  system: section({
    /** Where host.name comes from, tried in order: os (the kernel's hostname), dns (the resolver's FQDN). */
    hostname_sources: z
      .array(z.enum(HOSTNAME_SOURCES, { error: `expected one of ${HOSTNAME_SOURCES.join(', ')}` }))
      .min(1)
      .default(['os']),
    resource_attributes: attributeToggles(SYSTEM_ATTRIBUTES, ['host.name', 'os.type']),
  }),
  k8s: section({
    /** Environment variables holding the Downward API values. */
    node_from_env_var: z.string().min(1).default('K8S_NODE_NAME'),
    pod_from_env_var: z.string().min(1).default('K8S_POD_NAME'),
    namespace_from_env_var: z.string().min(1).default('K8S_POD_NAMESPACE'),
    pod_uid_from_env_var: z.string().min(1).default('K8S_POD_UID'),
    resource_attributes: attributeToggles(K8S_ATTRIBUTES, K8S_ATTRIBUTES),
  }),
});

export type ResourceDetectionConfig = z.output<typeof resourceDetectionConfigSchema>;
