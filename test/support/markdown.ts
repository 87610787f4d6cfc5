import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PROJECT_ROOT } from './cli.js';

/** Folders that hold no documentation of the project: installed packages, build output, data, git. */
const NOT_DOCS = new Set(['node_modules', 'dist', 'data', '.git', '.tap', '.scratch', 'test-output']);

function walk(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return NOT_DOCS.has(entry.name) ? [] : walk(path, keep);
    return entry.isFile() && keep(path) ? [path] : [];
  });
}

/** A path relative to the project, with `/` separators (as links write them). */
export function projectPath(path: string): string {
  return relative(PROJECT_ROOT, path).split(sep).join('/');
}

/**
 * The reference documents: README.md, docs/*.md and the README.md of every folder under src/ (one
 * per component), relative to the project and sorted.
 */
export function referenceFiles(root: string = PROJECT_ROOT): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  const components = walk(join(root, 'src'), (path) => path.endsWith(`${sep}README.md`)).map((path) => relative(root, path).split(sep).join('/'));
  return ['README.md', ...docs.sort(), ...components.sort()];
}

/** Every markdown file of the project (outside installed packages and build output), relative to root and sorted. */
export function markdownFiles(root: string = PROJECT_ROOT): string[] {
  return walk(root, (path) => path.endsWith('.md'))
    .map((path) => relative(root, path).split(sep).join('/'))
    .sort();
}

export interface MarkdownLine {
  /** 1-based. */
  number: number;
  text: string;
  /** The text of the nearest heading above (empty before the first). */
  heading: string;
  /** The line is a fence or inside a fenced code block: nothing in it is a heading or a link. */
  code: boolean;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;

/** The lines of a markdown text, each with the heading it is under and whether it is code. */
export function markdownLines(text: string): MarkdownLine[] {
  const out: MarkdownLine[] = [];
  let heading = '';
  let fence: string | null = null;
  text.split('\n').forEach((line, i) => {
    const f = FENCE.exec(line);
    if (fence !== null) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length && line.trim() === f[1]) fence = null;
      out.push({ number: i + 1, text: line, heading, code: true });
      return;
    }
    if (f) {
      fence = f[1]!;
      out.push({ number: i + 1, text: line, heading, code: true });
      return;
    }
    const h = HEADING.exec(line);
    if (h) heading = h[2]!.trim();
    out.push({ number: i + 1, text: line, heading, code: false });
  });
  return out;
}

/** The headings of a markdown text, in order, outside code blocks. */
export function headings(text: string): string[] {
  return markdownLines(text)
    .filter((l) => !l.code && HEADING.test(l.text))
    .map((l) => HEADING.exec(l.text)![2]!.trim());
}

/**
 * GitHub's anchor for a heading: its text as rendered (links become their text, tags go), lower
 * case, every character but letters, digits, marks, `_`, `-` and spaces removed, spaces → `-`.
 */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]*>/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a markdown file offers: its headings' slugs (a repeated one gets -1, -2, … as GitHub numbers them) and `<a id|name="…">`. */
export function anchors(text: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const heading of headings(text)) {
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const line of markdownLines(text)) {
    if (line.code) continue;
    for (const m of line.text.matchAll(/<a\s[^>]*\b(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  }
  return out;
}
