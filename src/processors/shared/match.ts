import { z } from 'zod';
import {
  anyValueFromJson,
  anyValueToString,
  type AnyValue,
  type Attributes,
  type InstrumentationScope,
  type LogRecord,
  type Resource,
} from '../../pipeline/model.js';
import { compileUserRegex, regexIssue } from './regex.js';
import { severitySchema } from './severity.js';
import { valuesEqual } from './values.js';

/**
 * Which records a processor acts on, in the OTel Collector's `include` / `exclude` shape
 * (MatchProperties): every property given must match (AND); within a list of services, bodies,
 * severity texts or libraries one match is enough (OR); every listed attribute must match (AND).
 * With `match_type: regexp`, names, bodies and attribute values are regular expressions
 * (unanchored, as in Go's regexp.MatchString); with `strict` they are compared exactly.
 */

const keyValue = z.strictObject({
  key: z.string({ error: 'expected an attribute key' }).min(1, 'must not be empty'),
  /** Absent: the key being present is enough. */
  value: z.unknown().optional(),
});

const library = z.strictObject({ name: z.string(), version: z.string().optional() });

const severityNumber = z.strictObject({
  min: severitySchema(),
  /** Also match records whose severity is unset (0). */
  match_undefined: z.boolean().default(false),
});

const matchType = z.enum(['strict', 'regexp'], { error: 'expected strict or regexp' }).default('strict');
const strings = z.array(z.string()).default([]);
const keyValues = z.array(keyValue).default([]);

/** The attributes processor's names (OTel attributesprocessor, logs). */
export const attributesMatchShape = {
  match_type: matchType,
  services: strings,
  resources: keyValues,
  libraries: z.array(library).default([]),
  attributes: keyValues,
  log_bodies: strings,
  log_severity_texts: strings,
  log_severity_number: severityNumber.optional(),
};

/** The filter processor's legacy names (OTel filterprocessor `logs.include` / `logs.exclude`). */
export const filterMatchShape = {
  match_type: matchType,
  resource_attributes: keyValues,
  record_attributes: keyValues,
  severity_texts: strings,
  severity_number: severityNumber.optional(),
  bodies: strings,
};

type KeyValueConfig = z.output<typeof keyValue>;

/** A match in one vocabulary, before compiling; `paths` gives each field's config key for errors. */
export interface MatchSpec {
  regexp: boolean;
  services: string[];
  resources: KeyValueConfig[];
  libraries: Array<{ name: string; version?: string | undefined }>;
  attributes: KeyValueConfig[];
  bodies: string[];
  severityTexts: string[];
  severityNumber?: { min: number; match_undefined: boolean } | undefined;
}

export type MatchField = 'services' | 'resources' | 'libraries' | 'attributes' | 'bodies' | 'severityTexts';

export function specFromAttributesMatch(c: z.output<z.ZodObject<typeof attributesMatchShape>>): MatchSpec {
  return {
    regexp: c.match_type === 'regexp',
    services: c.services,
    resources: c.resources,
    libraries: c.libraries,
    attributes: c.attributes,
    bodies: c.log_bodies,
    severityTexts: c.log_severity_texts,
    severityNumber: c.log_severity_number,
  };
}

export const ATTRIBUTES_MATCH_PATHS: Record<MatchField, string> = {
  services: 'services',
  resources: 'resources',
  libraries: 'libraries',
  attributes: 'attributes',
  bodies: 'log_bodies',
  severityTexts: 'log_severity_texts',
};

export function specFromFilterMatch(c: z.output<z.ZodObject<typeof filterMatchShape>>): MatchSpec {
  return {
    regexp: c.match_type === 'regexp',
    services: [],
    resources: c.resource_attributes,
    libraries: [],
    attributes: c.record_attributes,
    bodies: c.bodies,
    severityTexts: c.severity_texts,
    severityNumber: c.severity_number,
  };
}

export const FILTER_MATCH_PATHS: Record<MatchField, string> = {
  services: 'services',
  resources: 'resource_attributes',
  libraries: 'libraries',
  attributes: 'record_attributes',
  bodies: 'bodies',
  severityTexts: 'severity_texts',
};

/** A text test: a set lookup (strict) or a list of regexes (regexp). */
class TextMatcher {
  private readonly exact: Set<string> | undefined;
  private readonly patterns: RegExp[] | undefined;

  constructor(values: string[], regexps: RegExp[] | undefined) {
    if (regexps) this.patterns = regexps;
    else this.exact = new Set(values);
  }

  test(text: string): boolean {
    if (this.exact) return this.exact.has(text);
    const patterns = this.patterns!;
    for (let i = 0; i < patterns.length; i++) if (patterns[i]!.test(text)) return true;
    return false;
  }
}

interface AttributeTest {
  key: string;
  /** Strict: the value to equal; undefined when only presence is required. */
  value: AnyValue | undefined;
  pattern: RegExp | undefined;
}

function attributesMatch(tests: AttributeTest[], attrs: Attributes): boolean {
  for (let i = 0; i < tests.length; i++) {
    const t = tests[i]!;
    const v = attrs[t.key];
    if (v === undefined) return false;
    if (t.pattern) {
      if (!t.pattern.test(typeof v === 'string' ? v : anyValueToString(v))) return false;
    } else if (t.value !== undefined && !valuesEqual(v, t.value)) return false;
  }
  return true;
}

/** One compiled include or exclude block. Resource and scope parts are checked once per resource and scope. */
export class RecordMatcher {
  private readonly services: TextMatcher | undefined;
  private readonly resources: AttributeTest[];
  private readonly libraries: Array<{ name: TextMatcher; version: TextMatcher | undefined }>;
  private readonly attributes: AttributeTest[];
  private readonly bodies: TextMatcher | undefined;
  private readonly severityTexts: TextMatcher | undefined;
  private readonly severityMin: number;
  private readonly severityUndefined: boolean;
  readonly recordLevel: boolean;
  readonly scopeLevel: boolean;

  constructor(spec: MatchSpec, compiled: CompiledPatterns) {
    this.services = spec.services.length ? new TextMatcher(spec.services, compiled.services) : undefined;
    this.resources = spec.resources.map((kv, i) => attributeTest(kv, compiled.resources?.[i]));
    this.libraries = spec.libraries.map((l, i) => ({
      name: new TextMatcher([l.name], compiled.libraries ? [compiled.libraries[i]!.name] : undefined),
      version:
        l.version === undefined
          ? undefined
          : new TextMatcher([l.version], compiled.libraries ? [compiled.libraries[i]!.version!] : undefined),
    }));
    this.attributes = spec.attributes.map((kv, i) => attributeTest(kv, compiled.attributes?.[i]));
    this.bodies = spec.bodies.length ? new TextMatcher(spec.bodies, compiled.bodies) : undefined;
    this.severityTexts = spec.severityTexts.length
      ? new TextMatcher(spec.severityTexts, compiled.severityTexts)
      : undefined;
    this.severityMin = spec.severityNumber?.min ?? 0;
    this.severityUndefined = spec.severityNumber?.match_undefined ?? false;
    this.scopeLevel = this.libraries.length > 0;
    this.recordLevel =
      this.attributes.length > 0 ||
      this.bodies !== undefined ||
      this.severityTexts !== undefined ||
      this.severityMin > 0;
  }

  resource(resource: Resource): boolean {
    if (this.services) {
      const service = resource.attributes['service.name'];
      if (typeof service !== 'string' || !this.services.test(service)) return false;
    }
    return this.resources.length === 0 || attributesMatch(this.resources, resource.attributes);
  }

  scope(scope: InstrumentationScope): boolean {
    if (this.libraries.length === 0) return true;
    for (const l of this.libraries)
      if (l.name.test(scope.name) && (!l.version || l.version.test(scope.version))) return true;
    return false;
  }

  record(rec: LogRecord): boolean {
    if (this.severityMin > 0) {
      if (rec.severityNumber === 0 ? !this.severityUndefined : rec.severityNumber < this.severityMin) return false;
    }
    if (this.severityTexts && !this.severityTexts.test(rec.severityText)) return false;
    if (this.bodies) {
      const body = rec.body;
      if (body === null || !this.bodies.test(typeof body === 'string' ? body : anyValueToString(body))) return false;
    }
    return this.attributes.length === 0 || attributesMatch(this.attributes, rec.attributes);
  }
}

function attributeTest(kv: KeyValueConfig, pattern: RegExp | undefined): AttributeTest {
  return { key: kv.key, value: kv.value === undefined ? undefined : anyValueFromJson(kv.value), pattern };
}

/** The regexes of a regexp-mode spec, compiled in the spec's order (undefined in strict mode). */
interface CompiledPatterns {
  services?: RegExp[];
  resources?: Array<RegExp | undefined>;
  libraries?: Array<{ name: RegExp; version?: RegExp }>;
  attributes?: Array<RegExp | undefined>;
  bodies?: RegExp[];
  severityTexts?: RegExp[];
}

export interface MatchIssue {
  path: PropertyKey[];
  message: string;
}

/** Compiles a spec, collecting bad regexes and regexp-mode values that are not strings as issues. */
export function compileMatch(spec: MatchSpec, paths: Record<MatchField, string>, issues: MatchIssue[]): RecordMatcher {
  if (!spec.regexp) return new RecordMatcher(spec, {});
  const compile = (source: string, path: PropertyKey[]): RegExp => {
    try {
      return compileUserRegex(source);
    } catch (err) {
      issues.push({ path, message: regexIssue(err) });
      return /$^/;
    }
  };
  const kvs = (list: KeyValueConfig[], field: MatchField) =>
    list.map((kv, i) => {
      if (kv.value === undefined) return undefined;
      if (typeof kv.value !== 'string') {
        issues.push({
          path: [paths[field], i, 'value'],
          message: 'with match_type regexp, a value must be a regular expression (a string)',
        });
        return undefined;
      }
      return compile(kv.value, [paths[field], i, 'value']);
    });
  return new RecordMatcher(spec, {
    services: spec.services.map((s, i) => compile(s, [paths.services, i])),
    resources: kvs(spec.resources, 'resources'),
    libraries: spec.libraries.map((l, i) => ({
      name: compile(l.name, [paths.libraries, i, 'name']),
      ...(l.version === undefined ? {} : { version: compile(l.version, [paths.libraries, i, 'version']) }),
    })),
    attributes: kvs(spec.attributes, 'attributes'),
    bodies: spec.bodies.map((s, i) => compile(s, [paths.bodies, i])),
    severityTexts: spec.severityTexts.map((s, i) => compile(s, [paths.severityTexts, i])),
  });
}

/**
 * Decides, record by record, whether a processor acts on it: included (or no include block) and
 * not excluded. Resource and scope parts are evaluated when the walk enters them.
 */
export class RecordSelector {
  /** True when there is neither an include nor an exclude block: every record is selected. */
  readonly all: boolean;
  private includeResource = true;
  private excludeResource = false;
  private includeOuter = true;
  private excludeOuter = false;

  constructor(
    private readonly include: RecordMatcher | undefined,
    private readonly exclude: RecordMatcher | undefined,
  ) {
    this.all = !include && !exclude;
  }

  /**
   * False when no record of this resource can be selected (decides alone when the blocks have only
   * resource-level properties).
   */
  enterResource(resource: Resource): boolean {
    this.includeResource = !this.include || this.include.resource(resource);
    this.excludeResource = !!this.exclude && this.exclude.resource(resource);
    return this.includeResource && !(this.excludeResource && !this.exclude!.scopeLevel && !this.exclude!.recordLevel);
  }

  /** False when no record of this scope can be selected. */
  enterScope(scope: InstrumentationScope): boolean {
    this.includeOuter = this.includeResource && (!this.include || this.include.scope(scope));
    this.excludeOuter = this.excludeResource && this.exclude!.scope(scope);
    return this.includeOuter && !(this.excludeOuter && !this.exclude!.recordLevel);
  }

  selects(rec: LogRecord): boolean {
    if (!this.includeOuter) return false;
    if (this.include && this.include.recordLevel && !this.include.record(rec)) return false;
    return !(this.excludeOuter && this.exclude!.record(rec));
  }
}

/** An include/exclude block in the attributes processor's vocabulary, compiled to a RecordMatcher. */
export function attributesMatchSchema<K extends keyof typeof attributesMatchShape>(keys?: readonly K[]) {
  const shape = keys ? Object.fromEntries(keys.map((k) => [k, attributesMatchShape[k]])) : attributesMatchShape;
  return z.strictObject(shape as typeof attributesMatchShape).transform((c, ctx) => {
    const issues: MatchIssue[] = [];
    const matcher = compileMatch(
      specFromAttributesMatch({ ...EMPTY_ATTRIBUTES_MATCH, ...c }),
      ATTRIBUTES_MATCH_PATHS,
      issues,
    );
    for (const i of issues) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
    return matcher;
  });
}

const EMPTY_ATTRIBUTES_MATCH = {
  match_type: 'strict',
  services: [],
  resources: [],
  libraries: [],
  attributes: [],
  log_bodies: [],
  log_severity_texts: [],
} as const;

/** An include/exclude block in the filter processor's legacy vocabulary, compiled to a RecordMatcher. */
export function filterMatchSchema() {
  return z.strictObject(filterMatchShape).transform((c, ctx) => {
    const issues: MatchIssue[] = [];
    const matcher = compileMatch(specFromFilterMatch(c), FILTER_MATCH_PATHS, issues);
    for (const i of issues) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
    return matcher;
  });
}
