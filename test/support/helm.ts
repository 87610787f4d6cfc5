import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from './cli.js';

export const CHART_DIR = join(PROJECT_ROOT, 'helm', 'otelhouse');
const RENDERER_SOURCE = join(PROJECT_ROOT, 'test', 'support', 'helm-render', 'main.go');
const GOPATH = '/usr/share/gocode';

/** Why the chart cannot be rendered here, or undefined when it can. */
export function rendererUnavailable(): string | undefined {
  if (spawnSync('go', ['version']).error) return 'go is not installed (Debian: apt-get install golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev)';
  if (!existsSync(join(GOPATH, 'src/github.com/Masterminds/sprig')) || !existsSync(join(GOPATH, 'src/sigs.k8s.io/yaml'))) {
    return `sprig or sigs.k8s.io/yaml is missing under ${GOPATH} (Debian: apt-get install golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev)`;
  }
  return undefined;
}

let rendererPath: string | undefined;

/**
 * The helm-render binary, built once per version of its source: in GOPATH mode from Debian's Go
 * packages, so nothing is downloaded. Concurrent test files build to their own name and rename.
 */
export function helmRenderer(): string {
  if (rendererPath) return rendererPath;
  const hash = createHash('sha256').update(readFileSync(RENDERER_SOURCE)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'otelhouse-helm-render');
  const binary = join(dir, `helm-render-${hash}`);
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${binary}.${process.pid}`;
    execFileSync('go', ['build', '-o', partial, './test/support/helm-render'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE: join(dir, 'go-cache'), GOFLAGS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(partial, binary);
  }
  rendererPath = binary;
  return binary;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface Rendered {
  objects: K8sObject[];
  /** The objects as `helm template` prints them. */
  yaml: string;
  notes: string;
  /** The values after coalescing values.yaml with the given ones: what values.schema.json checks. */
  values: Record<string, unknown>;
}

export class RenderError extends Error {}

function runRenderer(values: Record<string, unknown>, format: 'json' | 'values' | 'yaml', options: { release?: string; namespace?: string }): string {
  const dir = join(tmpdir(), 'otelhouse-helm-render');
  mkdirSync(dir, { recursive: true });
  const valuesFile = join(dir, `values-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(valuesFile, JSON.stringify(values));
  const args = ['-f', valuesFile, '--release', options.release ?? 'otelhouse', '--namespace', options.namespace ?? 'observability', '--format', format, CHART_DIR];
  const result = spawnSync(helmRenderer(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  rmSync(valuesFile, { force: true });
  if (result.status !== 0) throw new RenderError(result.stderr.trim());
  return result.stdout;
}

/** The chart's values.yaml coalesced with these values, as Helm validates them before rendering. */
export function coalescedValues(values: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(runRenderer(values, 'values', {})) as Record<string, unknown>;
}

/** What `helm template RELEASE helm/otelhouse -n NAMESPACE -f values` prints. */
export function helmTemplate(values: Record<string, unknown>, options: { release?: string; namespace?: string } = {}): string {
  return runRenderer(values, 'yaml', options);
}

/** Renders the chart with these values (as `helm template RELEASE helm/otelhouse -f values`). */
export function renderChart(values: Record<string, unknown>, options: { release?: string; namespace?: string } = {}): Rendered {
  const out = JSON.parse(runRenderer(values, 'json', options)) as { manifests: Array<{ source: string; content: string }>; notes: string; values: Record<string, unknown> };
  const objects: K8sObject[] = [];
  let yaml = '';
  for (const m of out.manifests) {
    yaml += `---\n# Source: ${m.source}\n${m.content}`;
    for (const doc of parseAllDocuments(m.content)) {
      if (doc.errors.length > 0) throw new RenderError(`${m.source} is not valid YAML: ${doc.errors[0]!.message}\n${m.content}`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj) objects.push(obj);
    }
  }
  return { objects, yaml, notes: out.notes, values: out.values };
}

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateValues = ajv.compile(schema);

/** values.schema.json's verdict on coalesced values, as `helm install` gives it: the errors, or []. */
export function valuesSchemaErrors(values: unknown): string[] {
  if (validateValues(values)) return [];
  return (validateValues.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.params && 'allowedValues' in e.params ? `: ${(e.params.allowedValues as unknown[]).join(', ')}` : ''}`,
  );
}
