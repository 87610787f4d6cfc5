import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Container } from 'kubernetes-models/v1/Container';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Volume } from 'kubernetes-models/v1/Volume';

interface Validatable {
  validate(): void;
}

/** The models of the objects the chart renders, by apiVersion/kind, from kubernetes-models. */
const MODELS: Record<string, new (data?: never) => Validatable> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Pod': Pod,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Fragments: the sidecar snippet's container and volumes. */
export const FRAGMENTS = { Container, Volume } as const;

/**
 * Watches which properties a validator reads. The Kubernetes schemas do not forbid unknown
 * properties (the API server drops them with a warning), so a misspelt field such as
 * `readinesProbe` would pass: a property the schema's validator never asks for is one the schema
 * does not know. A map-like object (labels, annotations, ConfigMap data) is enumerated by the
 * validator, and then all its keys are known.
 */
function watched(value: unknown, path: string, read: Set<string>, enumerated: Set<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value as object, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return v;
      read.add(`${path}/${key}`);
      return Object.prototype.hasOwnProperty.call(target, key) ? watched(v, `${path}/${key}`, read, enumerated) : v;
    },
    has(target, key) {
      if (typeof key === 'string') read.add(`${path}/${key}`);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      enumerated.add(path);
      return Reflect.ownKeys(target);
    },
  });
}

function unknownFields(value: unknown, path: string, read: Set<string>, enumerated: Set<string>, out: string[]): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, `${path}/${i}`, read, enumerated, out));
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    const p = `${path}/${key}`;
    if (!enumerated.has(path) && !read.has(p)) out.push(`${p || '/'}: unknown field "${key}"`);
    else unknownFields(v, p, read, enumerated, out);
  }
}

function validateWith(model: new (data?: never) => Validatable, obj: unknown): string[] {
  const read = new Set<string>();
  const enumerated = new Set<string>();
  const errors: string[] = [];
  try {
    model.prototype.validate.call(watched(obj, '', read, enumerated));
  } catch (err) {
    errors.push((err as Error).message);
  }
  unknownFields(obj, '', read, enumerated, errors);
  return errors;
}

/** Problems of one Kubernetes object: schema violations and unknown fields; empty when valid. */
export function validateObject(obj: { apiVersion?: string; kind?: string }): string[] {
  const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!model) return [`no schema for ${obj.apiVersion}/${obj.kind}`];
  return validateWith(model, obj);
}

export function validateFragment(kind: keyof typeof FRAGMENTS, obj: unknown): string[] {
  return validateWith(FRAGMENTS[kind] as unknown as new (data?: never) => Validatable, obj);
}
