import { readFileSync } from 'node:fs';

/** Where bench:e2e puts a sample of the daemon's main thread. */
export const STAGES = [
  'decode',
  'processors',
  'templates',
  'encode',
  'compress',
  'queue',
  'send',
  'gc',
  'other',
] as const;
export type Stage = (typeof STAGES)[number];
/** Samples that are not the pipeline's work: waiting for events, and native code outside any JavaScript. */
type Apart = 'idle' | 'program';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * The stage of a call frame, or undefined when the frame is not the pipeline's own (node's
 * builtins, libraries): then its caller's stage is the sample's. zlib's crc32 is the disk
 * queue's checksum, not compression.
 */
function frameStage(frame: ProfileNode['callFrame']): Stage | Apart | undefined {
  const { functionName, url } = frame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'program';
  if (functionName === '(garbage collector)') return 'gc';
  if ((url === 'node:zlib' && functionName !== 'crc32') || url.includes('/node_modules/zstd-napi/')) return 'compress';
  if (url.includes('/node_modules/@clickhouse/') || url.includes('/node_modules/chdb/')) return 'send';
  const at = url.indexOf('/dist/src/');
  if (at < 0) return undefined;
  const file = url.slice(at + '/dist/src/'.length);
  if (file.startsWith('otlp/') || file.startsWith('receivers/')) return 'decode';
  if (file.startsWith('templates/') || file.startsWith('processors/templates/')) return 'templates';
  if (file.startsWith('processors/')) return 'processors';
  if (file === 'exporters/clickhouse/row-encoder.js' || file === 'exporters/clickhouse/byte-writer.js') return 'encode';
  // prepare() only calls the encoders, whose code V8 inlines into it.
  if (file === 'exporters/clickhouse/exporter.js') return functionName === 'prepare' ? 'encode' : 'send';
  if (file.startsWith('exporterhelper/')) return 'queue';
  return 'other';
}

/**
 * Microseconds of a .cpuprofile's samples taken between `from` and `to` (µs of the monotonic
 * clock, which V8's profile timestamps and process.hrtime share), by stage. A sample counts for
 * the innermost frame of its stack that has a stage, so time in a builtin or a library goes to
 * the pipeline code that called it. A sample lasts until the next one.
 */
export function profileStages(file: string, from: number, to: number): Record<Stage | Apart, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, Stage | Apart>();
  const stage = (id: number): Stage | Apart => {
    let s = stageOf.get(id);
    if (s === undefined) {
      const up = parent.get(id);
      s = frameStage(byId.get(id)!.callFrame) ?? (up === undefined ? 'other' : stage(up));
      stageOf.set(id, s);
    }
    return s;
  };
  const out = Object.fromEntries([...STAGES, 'idle', 'program'].map((s) => [s, 0])) as Record<Stage | Apart, number>;
  let t = profile.startTime;
  for (let i = 0; i + 1 < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    if (t >= from && t < to) out[stage(profile.samples[i]!)] += profile.timeDeltas[i + 1]!;
  }
  return out;
}
