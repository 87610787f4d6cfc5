import type { ComponentContext, ComponentHealth, Processor } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import type { LogBatch } from '../../pipeline/model.js';
import { detectEnv, detectK8s, detectSystem, type Detected } from './detectors.js';
import type { ResourceDetectionConfig } from './config.js';

function enabledSet(toggles: Record<string, { enabled: boolean }>): Set<string> {
  return new Set(
    Object.entries(toggles)
      .filter(([, t]) => t.enabled)
      .map(([k]) => k),
  );
}

/**
 * Adds what is known about where this daemon runs (environment, host, Kubernetes pod) to the
 * resource of everything it collects. Detection runs once at start; applying it is a loop over a
 * few precomputed keys per resource.
 */
export class ResourceDetectionProcessor implements Processor {
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
      else if (detector === 'system')
        detected = await this.withTimeout(
          detectSystem(enabledSet(c.system.resource_attributes), c.system.hostname_sources, warn),
        );
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
        this.context.logger.warn(
          { timeout_ms: this.config.timeout },
          'system detection timed out; continuing without it',
        );
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
