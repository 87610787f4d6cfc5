import {
  anyValueToString,
  isKeyValueList,
  type AnyValue,
  type InstrumentationScope,
  type LogRecord,
  type Resource,
} from '../../pipeline/model.js';
import { compileUserRegex, regexIssue } from '../shared/regex.js';
import { compareNumbers, valuesEqual } from '../shared/values.js';

/**
 * The subset of the OpenTelemetry Transformation Language (OTTL) that the OTel Collector's filter
 * processor users write for logs: boolean conditions over log record, resource and scope fields.
 *
 *   condition  := or
 *   or         := and ("or" and)*
 *   and        := not ("and" not)*
 *   not        := "not" not | "(" condition ")" | comparison
 *   comparison := value (("==" | "!=" | "<" | "<=" | ">" | ">=") value)?
 *   value      := string | int | float | true | false | nil | SEVERITY_NUMBER_* | path | Function(args)
 *   path       := body | attributes | severity_number | severity_text | time_unix_nano
 *               | observed_time_unix_nano | flags | event_name | trace_id.string | span_id.string
 *               | dropped_attributes_count | resource.attributes | resource.dropped_attributes_count
 *               | instrumentation_scope.(name | version | attributes) (also `scope.` and a `log.` prefix)
 *               followed by any number of ["key"] or [index]
 *   functions  := IsMatch(target, "regex"), HasPrefix(target, "p"), HasSuffix(target, "s"),
 *                 IsString, IsInt, IsDouble, IsBool, IsMap, IsList (target), Len(target)
 *
 * Comparisons follow OTTL: values of different kinds are never equal and never ordered, ints and
 * doubles compare as numbers, strings by code points. Indexing into a value that is not a map or
 * list is an evaluation error (the filter's error_mode decides what happens). Conditions compile
 * once into a tree of functions; evaluating one allocates nothing.
 */

/** What a condition is evaluated against; the filter processor reuses one instance for every record. */
export interface OttlContext {
  record: LogRecord;
  scope: InstrumentationScope;
  resource: Resource;
}

/** A condition could not be evaluated on a record (e.g. indexing into a string). */
export class OttlEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OttlEvaluationError';
  }
}

/** A condition does not parse; `column` is 1-based. */
export class OttlSyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(`${message} at column ${column}`);
    this.name = 'OttlSyntaxError';
  }
}

type Value = AnyValue | undefined;
type Getter = (ctx: OttlContext) => Value;
export type OttlCondition = (ctx: OttlContext) => boolean;

/** A Map, so an identifier such as `constructor` or `toString` is not taken for an enum. */
const SEVERITY_ENUMS = new Map<string, bigint>([['SEVERITY_NUMBER_UNSPECIFIED', 0n]]);
['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((name, i) => {
  SEVERITY_ENUMS.set(`SEVERITY_NUMBER_${name}`, BigInt(i * 4 + 1));
  for (let k = 2; k <= 4; k++) SEVERITY_ENUMS.set(`SEVERITY_NUMBER_${name}${k}`, BigInt(i * 4 + k));
});

/** Small ints as bigints made once, so reading severity_number or flags allocates nothing. */
const SMALL_INTS: bigint[] = Array.from({ length: 256 }, (_, i) => BigInt(i));
const smallInt = (n: number): bigint => SMALL_INTS[n] ?? BigInt(n);

type TokenKind = 'ident' | 'string' | 'number' | 'op' | '(' | ')' | '[' | ']' | ',' | '.' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  column: number;
}

const TOKEN = new RegExp(
  '\\s*(?:([A-Za-z_][A-Za-z0-9_]*)|("(?:[^"\\\\]|\\\\.)*")|' +
    '(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)|(==|!=|<=|>=|<|>)|([()[\\],.]))',
  'y',
);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  for (;;) {
    const start = TOKEN.lastIndex;
    if (/^\s*$/.test(text.slice(start))) break;
    const m = TOKEN.exec(text);
    if (!m) {
      const column = start + (text.slice(start).length - text.slice(start).trimStart().length) + 1;
      throw new OttlSyntaxError(`unexpected character ${JSON.stringify(text[column - 1])}`, column);
    }
    const column = m.index + m[0].length - m[0].trimStart().length + 1;
    if (m[1] !== undefined) tokens.push({ kind: 'ident', text: m[1], column });
    else if (m[2] !== undefined)
      tokens.push({ kind: 'string', text: JSON.parse(m[2].replace(/\\([^"\\/bfnrtu])/g, '\\\\$1')) as string, column });
    else if (m[3] !== undefined) tokens.push({ kind: 'number', text: m[3], column });
    else if (m[4] !== undefined) tokens.push({ kind: 'op', text: m[4], column });
    else tokens.push({ kind: m[5] as TokenKind, text: m[5]!, column });
  }
  tokens.push({ kind: 'end', text: '', column: text.length + 1 });
  return tokens;
}

function kindName(v: Value): string {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (v instanceof Uint8Array) return 'bytes';
  return Array.isArray(v) ? 'slice' : 'map';
}

function index(v: Value, key: string | number, path: string): Value {
  if (typeof key === 'string') {
    if (v === undefined || v === null) return undefined;
    if (!isKeyValueList(v))
      throw new OttlEvaluationError(`${path}: a ${kindName(v)} cannot be indexed by a string key`);
    return v[key];
  }
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new OttlEvaluationError(`${path}: a ${kindName(v)} cannot be indexed by a number`);
  if (key < 0 || key >= v.length)
    throw new OttlEvaluationError(`${path}: index ${key} out of range (length ${v.length})`);
  return v[key];
}

function compare(op: string, a: Value, b: Value): boolean {
  if (op === '==') return equal(a, b);
  if (op === '!=') return !equal(a, b);
  let order: number;
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === 'bigint' || ta === 'number') && (tb === 'bigint' || tb === 'number'))
    order = compareNumbers(a as bigint | number, b as bigint | number);
  else if (ta === 'string' && tb === 'string')
    order = (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  else return false;
  switch (op) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    default:
      return order >= 0;
  }
}

function equal(a: Value, b: Value): boolean {
  const aNil = a === undefined || a === null;
  const bNil = b === undefined || b === null;
  if (aNil || bNil) return aNil && bNil;
  return valuesEqual(a, b);
}

/** The text a string-like function works on: strings as they are, other scalars rendered; nil → undefined. */
function stringLike(v: Value): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : anyValueToString(v);
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private take(): Token {
    return this.tokens[this.pos++]!;
  }

  private expect(kind: TokenKind, what: string): Token {
    const t = this.take();
    if (t.kind !== kind)
      throw new OttlSyntaxError(
        `expected ${what}, found ${t.kind === 'end' ? 'the end' : JSON.stringify(t.text)}`,
        t.column,
      );
    return t;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text === word;
  }

  parseCondition(): OttlCondition {
    const cond = this.or();
    const t = this.peek();
    if (t.kind !== 'end') throw new OttlSyntaxError(`unexpected ${JSON.stringify(t.text)}`, t.column);
    return cond;
  }

  private or(): OttlCondition {
    const parts = [this.and()];
    while (this.isKeyword('or')) {
      this.take();
      parts.push(this.and());
    }
    if (parts.length === 1) return parts[0]!;
    return (ctx) => {
      for (let i = 0; i < parts.length; i++) if (parts[i]!(ctx)) return true;
      return false;
    };
  }

  private and(): OttlCondition {
    const parts = [this.not()];
    while (this.isKeyword('and')) {
      this.take();
      parts.push(this.not());
    }
    if (parts.length === 1) return parts[0]!;
    return (ctx) => {
      for (let i = 0; i < parts.length; i++) if (!parts[i]!(ctx)) return false;
      return true;
    };
  }

  private not(): OttlCondition {
    if (this.isKeyword('not')) {
      this.take();
      const inner = this.not();
      return (ctx) => !inner(ctx);
    }
    if (this.peek().kind === '(') {
      this.take();
      const inner = this.or();
      this.expect(')', '")"');
      return inner;
    }
    return this.comparison();
  }

  private comparison(): OttlCondition {
    const start = this.peek();
    const left = this.value();
    const op = this.peek();
    if (op.kind !== 'op') {
      return (ctx) => {
        const v = left(ctx);
        if (typeof v !== 'boolean')
          throw new OttlEvaluationError(`condition at column ${start.column} is a ${kindName(v)}, not a bool`);
        return v;
      };
    }
    this.take();
    const right = this.value();
    const operator = op.text;
    return (ctx) => compare(operator, left(ctx), right(ctx));
  }

  private value(): Getter {
    const t = this.take();
    switch (t.kind) {
      case 'string': {
        const s = t.text;
        return () => s;
      }
      case 'number': {
        const n: AnyValue = /[.eE]/.test(t.text) ? Number(t.text) : BigInt(t.text);
        return () => n;
      }
      case 'ident':
        break;
      default:
        throw new OttlSyntaxError(
          `expected a value, found ${t.kind === 'end' ? 'the end' : JSON.stringify(t.text)}`,
          t.column,
        );
    }
    if (t.text === 'true' || t.text === 'false') {
      const b = t.text === 'true';
      return () => b;
    }
    if (t.text === 'nil') return () => undefined;
    const severity = SEVERITY_ENUMS.get(t.text);
    if (severity !== undefined) return () => severity;
    if (this.peek().kind === '(') return this.call(t);
    return this.path(t);
  }

  private path(first: Token): Getter {
    const parts = [first.text];
    while (this.peek().kind === '.') {
      this.take();
      parts.push(this.expect('ident', 'a field name').text);
    }
    if (parts[0] === 'log' && parts.length > 1) parts.shift();
    if (parts[0] === 'scope') parts[0] = 'instrumentation_scope';
    const name = parts.join('.');
    let getter: Getter | undefined = fieldGetter(name);
    if (!getter) throw new OttlSyntaxError(`unknown path ${JSON.stringify(name)} in the log context`, first.column);
    let shown = name;
    while (this.peek().kind === '[') {
      this.take();
      const key = this.take();
      if (key.kind !== 'string' && key.kind !== 'number')
        throw new OttlSyntaxError('expected a string key or an index', key.column);
      this.expect(']', '"]"');
      const k: string | number = key.kind === 'string' ? key.text : Number(key.text);
      const inner: Getter = getter;
      const label = (shown = `${shown}[${JSON.stringify(k)}]`);
      getter = (ctx) => index(inner(ctx), k, label);
    }
    return getter;
  }

  private call(name: Token): Getter {
    this.expect('(', '"("');
    const argTokens: Token[] = [];
    const args: Getter[] = [];
    if (this.peek().kind !== ')') {
      for (;;) {
        argTokens.push(this.peek());
        args.push(this.value());
        if (this.peek().kind !== ',') break;
        this.take();
      }
    }
    this.expect(')', '")"');
    const arity = (n: number) => {
      if (args.length !== n)
        throw new OttlSyntaxError(
          `${name.text} takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`,
          name.column,
        );
    };
    const literal = (i: number): string => {
      const t = argTokens[i]!;
      if (t.kind !== 'string')
        throw new OttlSyntaxError(`${name.text}: argument ${i + 1} must be a string literal`, t.column);
      return t.text;
    };
    const target = args[0]!;
    switch (name.text) {
      case 'IsMatch': {
        arity(2);
        let re: RegExp;
        try {
          re = compileUserRegex(literal(1));
        } catch (err) {
          throw new OttlSyntaxError(`IsMatch: ${regexIssue(err)}`, argTokens[1]!.column);
        }
        return (ctx) => {
          const s = stringLike(target(ctx));
          return s !== undefined && re.test(s);
        };
      }
      case 'HasPrefix':
      case 'HasSuffix': {
        arity(2);
        const affix = literal(1);
        const prefix = name.text === 'HasPrefix';
        return (ctx) => {
          const v = target(ctx);
          if (v === undefined || v === null) return false;
          if (typeof v !== 'string')
            throw new OttlEvaluationError(`${name.text}: target is a ${kindName(v)}, not a string`);
          return prefix ? v.startsWith(affix) : v.endsWith(affix);
        };
      }
      case 'IsString':
      case 'IsInt':
      case 'IsDouble':
      case 'IsBool':
      case 'IsMap':
      case 'IsList': {
        arity(1);
        const kind = {
          IsString: 'string',
          IsInt: 'int',
          IsDouble: 'double',
          IsBool: 'bool',
          IsMap: 'map',
          IsList: 'slice',
        }[name.text]!;
        return (ctx) => kindName(target(ctx)) === kind;
      }
      case 'Len': {
        arity(1);
        return (ctx) => {
          const v = target(ctx);
          if (typeof v === 'string') return BigInt(v.length);
          if (Array.isArray(v)) return BigInt(v.length);
          if (v instanceof Uint8Array) return BigInt(v.length);
          if (isKeyValueList(v as AnyValue)) return BigInt(Object.keys(v as object).length);
          throw new OttlEvaluationError(`Len: a ${kindName(v)} has no length`);
        };
      }
      default:
        throw new OttlSyntaxError(
          `unknown function ${name.text} (known: IsMatch, HasPrefix, ` +
            `HasSuffix, IsString, IsInt, IsDouble, IsBool, IsMap, IsList, Len)`,
          name.column,
        );
    }
  }
}

function fieldGetter(name: string): Getter | undefined {
  switch (name) {
    case 'body':
      return (ctx) => ctx.record.body;
    case 'attributes':
      return (ctx) => ctx.record.attributes;
    case 'severity_number':
      return (ctx) => smallInt(ctx.record.severityNumber);
    case 'severity_text':
      return (ctx) => ctx.record.severityText;
    case 'time_unix_nano':
      return (ctx) => ctx.record.timeUnixNano;
    case 'observed_time_unix_nano':
      return (ctx) => ctx.record.observedTimeUnixNano;
    case 'flags':
      return (ctx) => smallInt(ctx.record.flags);
    case 'event_name':
      return (ctx) => ctx.record.eventName;
    case 'trace_id.string':
      return (ctx) => ctx.record.traceId;
    case 'span_id.string':
      return (ctx) => ctx.record.spanId;
    case 'dropped_attributes_count':
      return (ctx) => smallInt(ctx.record.droppedAttributesCount);
    case 'resource.attributes':
      return (ctx) => ctx.resource.attributes;
    case 'resource.dropped_attributes_count':
      return (ctx) => smallInt(ctx.resource.droppedAttributesCount);
    case 'instrumentation_scope.name':
      return (ctx) => ctx.scope.name;
    case 'instrumentation_scope.version':
      return (ctx) => ctx.scope.version;
    case 'instrumentation_scope.attributes':
      return (ctx) => ctx.scope.attributes;
    default:
      return undefined;
  }
}

/** Parses and compiles one OTTL condition. Throws OttlSyntaxError saying what and where. */
export function compileCondition(text: string): OttlCondition {
  return new Parser(tokenize(text)).parseCondition();
}
