import { parse as parseYaml } from 'yaml';
import type { ConfigIssue } from './errors.js';

const REFERENCE = /\$\$|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

/**
 * Expands ${env:NAME} and ${env:NAME:-default} in every string of a parsed config, as the OTel
 * Collector does: after YAML parsing (an env value cannot change the document's structure), with
 * a value that is a whole reference typed as a YAML scalar (so PORT=4317 becomes a number), and
 * `$$` for a literal `$`.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], path = ''): unknown {
  if (typeof value === 'string') return expandString(value, env, issues, path);
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, issues, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, issues, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

function expandString(text: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[], path: string): unknown {
  if (!text.includes('$')) return text;
  const whole = WHOLE_REFERENCE.exec(text);
  if (whole) {
    const resolved = lookup(whole[1]!, whole[2], env, issues, path);
    return resolved === undefined ? text : scalar(resolved);
  }
  return text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    return lookup(name!, fallback, env, issues, path) ?? match;
  });
}

function lookup(
  name: string,
  fallback: string | undefined,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
  path: string,
): string | undefined {
  const v = env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  if (v === '') return '';
  issues.push({
    path,
    message: `environment variable ${name} is not set and has no default (write \${env:${name}:-value})`,
  });
  return undefined;
}

function scalar(text: string): unknown {
  try {
    const v: unknown = parseYaml(text);
    return v === null || typeof v === 'object' ? text : v;
  } catch {
    return text;
  }
}
