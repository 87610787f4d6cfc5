import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { AnyFactory } from '../pipeline/component.js';
import type { ComponentKind } from '../pipeline/component-kind.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { ComponentRegistry } from '../pipeline/registry.js';
import { expandEnv } from './env.js';
import { duration, hostPort, section } from './types.js';

export interface ResolvedComponent {
  /** `type` or `type/name`, as written. */
  id: string;
  type: string;
  kind: ComponentKind;
  factory: AnyFactory;
  /** The instance's config after defaults were filled in. */
  config: unknown;
  /** The instance's config as written (after ${env:…} expansion), to tell a default from a key set explicitly. */
  raw: Record<string, unknown>;
}

export interface PipelineConfig {
  id: string;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface ServiceConfig {
  /** The extensions listed in service.extensions, in that order (declared but unlisted ones are not run). */
  extensions: Map<string, ResolvedComponent>;
  receivers: Map<string, ResolvedComponent>;
  processors: Map<string, ResolvedComponent>;
  exporters: Map<string, ResolvedComponent>;
  pipelines: PipelineConfig[];
  telemetry: z.output<typeof telemetrySchema>;
  shutdownTimeoutMs: number;
  /** Pipeline worker processes (service.workers, `auto` resolved to the cores available). */
  workers: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

const telemetrySchema = section({
  metrics: section({
    /** Address of the operating endpoints: /health, /stats, /metrics. */
    address: hostPort('0.0.0.0:8888'),
  }),
  logs: section({
    level: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  }),
});

const idList = z
  .array(z.string({ error: 'expected a component id' }), { error: 'expected a list of component ids' })
  .default([]);

const pipelineSchema = z.strictObject({ receivers: idList, processors: idList, exporters: idList });

const componentMap = z.record(z.string(), z.unknown(), { error: 'expected a map of component id to config' }).nullish();

const WORKERS_EXPECTED = 'expected a whole number of processes, at least 1, or auto (one a core)';

const serviceSchema = z.strictObject(
  {
    extensions: idList,
    pipelines: z.record(z.string(), z.unknown(), { error: 'expected a map of pipeline id to pipeline' }),
    telemetry: telemetrySchema,
    shutdown_timeout: duration('30s'),
    workers: z
      .union([z.literal('auto'), z.number()], { error: WORKERS_EXPECTED })
      .default(1)
      .superRefine((v, ctx) => {
        if (v !== 'auto' && !(Number.isInteger(v) && v >= 1))
          ctx.addIssue({ code: 'custom', message: WORKERS_EXPECTED });
      }),
  },
  { error: 'expected a map with pipelines' },
);

/**
 * Each top-level section is checked on its own, so that a misspelt or broken one does not hide the
 * mistakes in the others: every problem is reported at once.
 */
const SECTIONS = {
  extensions: componentMap,
  receivers: componentMap,
  processors: componentMap,
  exporters: componentMap,
  service: serviceSchema,
} as const;
type Sections = { [K in keyof typeof SECTIONS]?: z.output<(typeof SECTIONS)[K]> };

const COMPONENT_ID = /^([a-z][a-z0-9_]*)(?:\/([^\s/]+))?$/;
const PIPELINE_ID = /^([a-z]+)(?:\/([^\s/]+))?$/;

/** Turns zod's issues into ours, with the dotted path of the config key. */
export function zodIssues(error: z.ZodError, prefix: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const base = joinPath(prefix, issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: joinPath(base, [key]), message: 'unknown key' });
    } else {
      out.push({ path: base, message: issue.message });
    }
  }
  return out;
}

function joinPath(prefix: string, parts: PropertyKey[]): string {
  let p = prefix;
  for (const part of parts) {
    if (typeof part === 'number') p += `[${part}]`;
    else p = p ? `${p}.${String(part)}` : String(part);
  }
  return p;
}

export function loadConfigFile(
  file: string,
  registry: ComponentRegistry,
  env: NodeJS.ProcessEnv = process.env,
): ServiceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      [{ path: '', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }],
      file,
    );
  }
  return parseConfig(text, registry, env, file, dirname(resolve(file)));
}

/**
 * Parses, expands and validates a whole config; throws one ConfigError listing every problem.
 * Relative paths in it are resolved against baseDir: the directory of the config file (see
 * docs/decisions.md), or the working directory for a config given as text.
 */
export function parseConfig(
  text: string,
  registry: ComponentRegistry,
  env: NodeJS.ProcessEnv = process.env,
  source?: string,
  baseDir: string = process.cwd(),
): ServiceConfig {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0]}` })),
      source,
    );
  }
  const issues: ConfigIssue[] = [];
  const raw = expandEnv(doc.toJS() ?? {}, env, issues);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(
      [...issues, { path: '', message: 'expected a map with receivers, processors, exporters and service' }],
      source,
    );
  }
  const top = parseSections(raw as Record<string, unknown>, issues);
  const declaredExtensions = resolveComponents('extension', top.extensions ?? {}, registry, issues);
  const extensions = top.service
    ? enabledExtensions(top.service.extensions, declaredExtensions, top.extensions ?? {}, issues)
    : new Map<string, ResolvedComponent>();
  const receivers = resolveComponents('receiver', top.receivers ?? {}, registry, issues);
  if (top.service)
    for (const [id, raw] of Object.entries(top.receivers ?? {}))
      checkAuthenticatorRefs(raw, `receivers.${id}`, extensions, issues);
  if (top.service)
    for (const id of extensions.keys())
      checkAuthenticatorRefs(top.extensions?.[id], `extensions.${id}`, extensions, issues);
  const processors = resolveComponents('processor', top.processors ?? {}, registry, issues);
  const exporters = resolveComponents('exporter', top.exporters ?? {}, registry, issues);
  for (const components of [declaredExtensions, receivers, processors, exporters]) {
    for (const c of components.values()) resolvePaths(c.config, `${c.kind}s.${c.id}`, baseDir, issues);
  }
  const declared = {
    receivers: new Set(Object.keys(top.receivers ?? {})),
    processors: new Set(Object.keys(top.processors ?? {})),
    exporters: new Set(Object.keys(top.exporters ?? {})),
  };
  const pipelines = top.service ? resolvePipelines(top.service.pipelines, declared, issues) : [];
  const workers = top.service?.workers === 'auto' ? availableParallelism() : (top.service?.workers ?? 1);
  if (workers > 1) {
    for (const components of [extensions, receivers, processors, exporters]) {
      for (const c of components.values()) {
        const reason = c.factory.singleProcess?.(c.config as never);
        if (reason)
          issues.push({
            path: 'service.workers',
            message: `${workers} worker processes, but ${c.kind}s.${c.id} ${reason}, or set service.workers: 1`,
          });
      }
    }
  }
  if (issues.length > 0 || !top.service) throw new ConfigError(issues, source);
  return {
    extensions,
    receivers,
    processors,
    exporters,
    pipelines,
    telemetry: top.service.telemetry,
    shutdownTimeoutMs: top.service.shutdown_timeout,
    workers,
  };
}

function parseSections(raw: Record<string, unknown>, issues: ConfigIssue[]): Sections {
  const known = Object.keys(SECTIONS);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in SECTIONS)) {
      const near = known.find((k) => editDistance(k, key) <= 2);
      issues.push({
        path: key,
        message: near ? `unknown key (did you mean ${near}?)` : `unknown key (expected ${known.join(', ')})`,
      });
      continue;
    }
    const parsed = SECTIONS[key as keyof typeof SECTIONS].safeParse(value);
    if (parsed.success) out[key] = parsed.data;
    else issues.push(...zodIssues(parsed.error, key));
  }
  if (!('service' in raw)) issues.push(...zodIssues(serviceSchema.safeParse(undefined).error!, 'service'));
  return out as Sections;
}

/** Levenshtein distance, to suggest the key a typo meant. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** Keys naming a file the component reads: they must exist and be readable when the config is loaded. */
const FILE_KEYS = new Set(['cert_file', 'key_file', 'client_ca_file', 'ca_file', 'filename']);
/** Keys naming a directory the component creates when it starts, keyed by the section holding them. */
const DIR_KEYS: Record<string, string> = { sending_queue: 'storage', dead_letter: 'path' };
const EMBEDDED = 'embedded://';

/**
 * Makes the relative paths of a parsed component config absolute against baseDir, in place, so
 * that what a command opens does not depend on the working directory; and reports every named
 * file that cannot be read, with its key path, so that `validate` finds it rather than `run`.
 */
function resolvePaths(config: unknown, path: string, baseDir: string, issues: ConfigIssue[], parentKey = ''): void {
  if (typeof config !== 'object' || config === null) return;
  const obj = config as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    const keyPath = Array.isArray(config) ? `${path}[${key}]` : `${path}.${key}`;
    if (typeof value !== 'string' || value === '') {
      resolvePaths(value, keyPath, baseDir, issues, key);
    } else if (FILE_KEYS.has(key)) {
      obj[key] = resolve(baseDir, value);
      const problem = unreadableFile(obj[key] as string);
      if (problem) issues.push({ path: keyPath, message: `cannot read ${obj[key] as string}: ${problem}` });
    } else if (DIR_KEYS[parentKey] === key) {
      obj[key] = resolve(baseDir, value);
    } else if (key === 'endpoint' && value.startsWith(EMBEDDED) && value.length > EMBEDDED.length) {
      obj[key] = EMBEDDED + resolve(baseDir, value.slice(EMBEDDED.length));
    }
  }
}

function unreadableFile(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return 'not a file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

function resolveComponents(
  kind: ComponentKind,
  section: Record<string, unknown>,
  registry: ComponentRegistry,
  issues: ConfigIssue[],
): Map<string, ResolvedComponent> {
  const out = new Map<string, ResolvedComponent>();
  for (const [id, rawConfig] of Object.entries(section)) {
    const path = `${kind}s.${id}`;
    const m = COMPONENT_ID.exec(id);
    if (!m) {
      issues.push({ path, message: 'not a component id: write `type` or `type/name`' });
      continue;
    }
    const type = m[1]!;
    const factory = registry.get(kind, type);
    if (!factory) {
      issues.push({ path, message: `unknown ${kind} type "${type}" (known: ${registry.types(kind).join(', ')})` });
      continue;
    }
    const parsed = factory.configSchema.safeParse(rawConfig ?? {});
    if (!parsed.success) {
      issues.push(...zodIssues(parsed.error, path));
      continue;
    }
    const raw = typeof rawConfig === 'object' && rawConfig !== null ? (rawConfig as Record<string, unknown>) : {};
    out.set(id, { id, type, kind, factory, config: parsed.data, raw });
  }
  return out;
}

function enabledExtensions(
  listed: string[],
  resolved: Map<string, ResolvedComponent>,
  declared: Record<string, unknown>,
  issues: ConfigIssue[],
): Map<string, ResolvedComponent> {
  const out = new Map<string, ResolvedComponent>();
  listed.forEach((id, i) => {
    const path = `service.extensions[${i}]`;
    if (!(id in declared)) issues.push({ path, message: `"${id}" is not defined under extensions` });
    else if (out.has(id)) issues.push({ path, message: `"${id}" is listed twice` });
    const r = resolved.get(id);
    if (r) out.set(id, r);
  });
  return out;
}

/**
 * `auth: { authenticator: ID }`, wherever it appears in a component's config (as in the OTel
 * Collector's confighttp and configgrpc), must name an extension listed in service.extensions.
 */
function checkAuthenticatorRefs(
  config: unknown,
  path: string,
  enabled: Map<string, ResolvedComponent>,
  issues: ConfigIssue[],
): void {
  if (typeof config !== 'object' || config === null) return;
  for (const [key, value] of Object.entries(config)) {
    if (
      key === 'auth' &&
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { authenticator?: unknown }).authenticator === 'string'
    ) {
      const id = (value as { authenticator: string }).authenticator;
      if (!enabled.has(id)) {
        issues.push({
          path: `${path}.auth.authenticator`,
          message:
            `"${id}" is not an extension listed in service.extensions ` +
            `(define it under extensions and list it there)`,
        });
      }
    } else {
      checkAuthenticatorRefs(value, `${path}.${key}`, enabled, issues);
    }
  }
}

function resolvePipelines(
  raw: Record<string, unknown>,
  declared: Record<'receivers' | 'processors' | 'exporters', Set<string>>,
  issues: ConfigIssue[],
): PipelineConfig[] {
  const out: PipelineConfig[] = [];
  if (Object.keys(raw).length === 0)
    issues.push({ path: 'service.pipelines', message: 'no pipeline defined (add e.g. `logs:`)' });
  for (const [id, rawPipeline] of Object.entries(raw)) {
    const path = `service.pipelines.${id}`;
    const m = PIPELINE_ID.exec(id);
    if (!m || m[1] !== 'logs') {
      issues.push({ path, message: 'only logs pipelines are supported: name it `logs` or `logs/<name>`' });
      continue;
    }
    const parsed = pipelineSchema.safeParse(rawPipeline ?? {});
    if (!parsed.success) {
      issues.push(...zodIssues(parsed.error, path));
      continue;
    }
    const p = parsed.data;
    for (const key of ['receivers', 'exporters'] as const) {
      if (p[key].length === 0)
        issues.push({ path: `${path}.${key}`, message: `a pipeline needs at least one ${key.slice(0, -1)}` });
    }
    for (const key of ['receivers', 'processors', 'exporters'] as const) {
      const seen = new Set<string>();
      p[key].forEach((ref, i) => {
        if (!declared[key].has(ref))
          issues.push({ path: `${path}.${key}[${i}]`, message: `"${ref}" is not defined under ${key}` });
        if (seen.has(ref)) issues.push({ path: `${path}.${key}[${i}]`, message: `"${ref}" is listed twice` });
        seen.add(ref);
      });
    }
    out.push({ id, ...p });
  }
  return out;
}
