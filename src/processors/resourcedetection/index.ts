import { z } from 'zod';
import { duration, section } from '../../config/types.js';
import type { ComponentContext, ComponentHealth, Processor, ProcessorFactory } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import type { LogBatch } from '../../pipeline/model.js';
import { HOSTNAME_SOURCES, K8S_ATTRIBUTES, SYSTEM_ATTRIBUTES, detectEnv, detectK8s, detectSystem, type Detected } from './detectors.js';

const DETECTORS = ['env', 'system', 'k8s'] as const;

const toggle = (enabled: boolean) => section({ enabled: z.boolean().default(enabled) });

/** The OTel Collector's `resource_attributes: { name: { enabled } }` map for a detector's attributes. */
function attributeToggles<const K extends readonly string[]>(names: K, onByDefault: readonly string[]) {
  return section(Object.fromEntries(names.map((n) => [n, toggle(onByDefault.includes(n))])) as { [P in K[number]]: ReturnType<typeof toggle> });
}

export const resourceDetectionConfigSchema = section({
  /** Detectors run in order; when two find the same attribute, the first one wins. */
  detectors: z.array(z.enum(DETECTORS, { error: `expected one of ${DETECTORS.join(', ')}` }), { error: 'expected a list of detectors' }).min(1, 'name at least one detector').default(['env']),
  /** true: detected values replace attributes the data already has; false: only fill in missing ones. */
  override: z.boolean().default(true),
  /** Time allowed for detection at start-up (the dns hostname source). */
  timeout: duration('2s'),
  system: section({
    /** Where host.name comes from, tried in order: os (the kernel's hostname), dns (the resolver's FQDN). */
    hostname_sources: z.array(z.enum(HOSTNAME_SOURCES, { error: `expected one of ${HOSTNAME_SOURCES.join(', ')}` })).min(1).default(['os']),
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

type ResourceDetectionConfig = z.output<typeof resourceDetectionConfigSchema>;

function enabledSet(toggles: Record<string, { enabled: boolean }>): Set<string> {
  return new Set(Object.entries(toggles).filter(([, t]) => t.enabled).map(([k]) => k));
}

/**
 * Adds what is known about where this daemon runs (environment, host, Kubernetes pod) to the
 * resource of everything it collects. Detection runs once at start; applying it is a loop over a
 * few precomputed keys per resource.
 */
class ResourceDetectionProcessor implements Processor {
  private keys: string[] = [];
  private values: string[] = [];

  constructor(
    private readonly config: ResourceDetectionConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async start(): Promise<void> {
    const warn = (message: string) => this.context.logger.warn(message);
    const c = this.config;
    const found = new Map<string, string>();
    for (const detector of c.detectors) {
      let detected: Detected;
      if (detector === 'env') detected = detectEnv(this.env, warn);
      else if (detector === 'system') detected = await this.withTimeout(detectSystem(enabledSet(c.system.resource_attributes), c.system.hostname_sources, warn));
      else {
        const variables = {
          'k8s.node.name': c.k8s.node_from_env_var,
          'k8s.pod.name': c.k8s.pod_from_env_var,
          'k8s.namespace.name': c.k8s.namespace_from_env_var,
          'k8s.pod.uid': c.k8s.pod_uid_from_env_var,
        };
        detected = detectK8s(this.env, variables, enabledSet(c.k8s.resource_attributes));
        if (detected.length === 0) warn(`k8s: none of ${Object.values(variables).join(', ')} is set; nothing detected`);
      }
      for (const [k, v] of detected) if (!found.has(k)) found.set(k, v);
    }
    this.keys = [...found.keys()];
    this.values = [...found.values()];
    this.context.logger.info({ detected: Object.fromEntries(found) }, 'resource detected');
  }

  private async withTimeout(work: Promise<Detected>): Promise<Detected> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Detected>((resolve) => {
      timer = setTimeout(() => {
        this.context.logger.warn({ timeout_ms: this.config.timeout }, 'system detection timed out; continuing without it');
        resolve([]);
      }, this.config.timeout);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async shutdown(): Promise<void> {}

  health(): ComponentHealth {
    return { status: 'ok', detected: this.keys.length };
  }

  async consume(batch: LogBatch): Promise<void> {
    const keys = this.keys;
    const values = this.values;
    const override = this.config.override;
    for (const rl of batch.resourceLogs) {
      const attrs = rl.resource.attributes;
      for (let i = 0; i < keys.length; i++) {
        if (override || attrs[keys[i]!] === undefined) attrs[keys[i]!] = values[i]!;
      }
    }
    return this.next.consume(batch);
  }
}

export const resourceDetectionProcessorFactory: ProcessorFactory<typeof resourceDetectionConfigSchema> = {
  kind: 'processor',
  type: 'resourcedetection',
  configSchema: resourceDetectionConfigSchema,
  create: (config, context, next) => new ResourceDetectionProcessor(config, context, next, process.env),
};
