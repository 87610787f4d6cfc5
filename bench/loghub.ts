import { readFileSync } from 'node:fs';
import path from 'node:path';
import { logFormatRegex } from './accuracy.js';

/**
 * `lines` messages of the loghub-2k samples at `dataDir` (their headers cut off with each
 * dataset's log format), one dataset after the other in turn, each repeated once it is used up.
 */
export function loghubMix(dataDir: string, lines: number): string[] {
  const specs = JSON.parse(readFileSync(path.join(dataDir, 'datasets.json'), 'utf8')) as Record<
    string,
    { log: string; log_format: string }
  >;
  const perDataset = Object.values(specs).map((spec) => {
    const regex = logFormatRegex(spec.log_format);
    return readFileSync(path.join(dataDir, spec.log), 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.length > 0)
      .map((line) => regex.exec(line.trim())?.groups?.Content ?? line);
  });
  const mix: string[] = [];
  for (let i = 0; mix.length < lines; i++) {
    const source = perDataset[i % perDataset.length]!;
    mix.push(source[Math.floor(i / perDataset.length) % source.length]!);
  }
  return mix;
}
