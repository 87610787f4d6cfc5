import { Piscina } from 'piscina';
import { CompiledTemplateSet, matchMessages, type SnapshotData } from './matcher.js';
import { TokenScan, compileMaskingRules } from './token-scanner.js';

/** A matching task: one batch of one template set, its bytes transferred in. */
export interface MatchTask {
  version: number;
  /** The current snapshot as JSON in shared memory: read only when this worker's copy is older. */
  snapshot: SharedArrayBuffer;
  snapshotLength: number;
  set: string;
  buffer: ArrayBuffer;
  offsets: Int32Array;
}

export interface MatchTaskResult {
  version: number;
  templates: Int32Array;
  spanIndex: Int32Array;
  spans: Int32Array;
  shapes: Uint8Array;
  buffer: ArrayBuffer;
  offsets: Int32Array;
}

const EMPTY = new CompiledTemplateSet([]);
let scan = new TokenScan();
let masking = '[]';
let version = -1;
let sets = new Map<string, CompiledTemplateSet>();

function load(task: MatchTask): void {
  const text = Buffer.from(task.snapshot, 0, task.snapshotLength).toString('utf8');
  const data = JSON.parse(text) as SnapshotData;
  sets = new Map(Object.entries(data.sets).map(([key, templates]) => [key, new CompiledTemplateSet(templates)]));
  version = data.version;
  const rules = JSON.stringify(data.masking);
  if (rules !== masking) {
    scan = new TokenScan(compileMaskingRules(data.masking));
    masking = rules;
  }
}

export default function matchTask(task: MatchTask) {
  if (task.version !== version) load(task);
  const result = matchMessages(
    sets.get(task.set) ?? EMPTY,
    version,
    { buffer: new Uint8Array(task.buffer), offsets: task.offsets },
    scan,
  );
  const value: MatchTaskResult = { ...result, buffer: task.buffer, offsets: task.offsets };
  return Piscina.move({
    [Piscina.transferableSymbol]: [
      value.templates.buffer,
      value.spanIndex.buffer,
      value.spans.buffer,
      value.shapes.buffer,
      value.buffer,
      value.offsets.buffer,
    ],
    [Piscina.valueSymbol]: value,
  } as never);
}
