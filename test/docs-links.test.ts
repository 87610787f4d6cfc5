import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from './support/cli.js';
import { tempDir } from './support/daemon.js';
import { anchors, markdownFiles, markdownLines, slug } from './support/markdown.js';

/*
 * Every relative link of the project's markdown files (README.md, docs/, the components' READMEs
 * under src/, test/, deploy/, helm/) must point to a file or folder that exists, and every
 * `#anchor` to a heading of the target (GitHub's slugs) or an `<a id>` in it. Links to other sites
 * are not followed.
 */

interface Link {
  line: number;
  target: string;
}

/** Inline links and images `[text](target)`, and reference definitions `[id]: target`, outside code. */
function links(text: string): Link[] {
  const out: Link[] = [];
  for (const line of markdownLines(text)) {
    if (line.code) continue;
    const prose = line.text.replace(/(`+)[^`][\s\S]*?\1/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line: line.number, target: m[1]! });
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(prose);
    if (definition) out.push({ line: line.number, target: definition[1]! });
  }
  return out;
}

/** What is wrong with the links of these markdown files (paths relative to root), one line each. */
function brokenLinks(root: string, files: string[]): string[] {
  const problems: string[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  const anchorsIn = (file: string) => {
    if (!anchorsOf.has(file)) anchorsOf.set(file, anchors(readFileSync(join(root, file), 'utf8')));
    return anchorsOf.get(file)!;
  };
  for (const file of files) {
    for (const { line, target } of links(readFileSync(join(root, file), 'utf8'))) {
      const where = `${file}:${line}: ${target}`;
      // Another site (http:, https:, mailto:) or a protocol-relative address.
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      if (target === '') {
        problems.push(`${where}: empty link`);
        continue;
      }
      const hash = target.indexOf('#');
      const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
      const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const resolved = path === '' ? file : path.startsWith('/') ? posix.normalize(path.slice(1)) : posix.normalize(posix.join(posix.dirname(file), path));
      if (resolved.startsWith('../') || resolved === '..') {
        problems.push(`${where}: outside the project`);
        continue;
      }
      if (!existsSync(join(root, resolved))) {
        problems.push(`${where}: no such file ${resolved}`);
        continue;
      }
      if (anchor === undefined || !resolved.endsWith('.md') || !statSync(join(root, resolved)).isFile()) continue;
      if (!anchorsIn(resolved).has(anchor)) problems.push(`${where}: no heading #${anchor} in ${resolved}`);
    }
  }
  return problems;
}

t.test("GitHub's heading slugs", async (t) => {
  t.equal(slug('Receiver `otlp`'), 'receiver-otlp');
  t.equal(slug('Exporter `otlp` (and `otlphttp`)'), 'exporter-otlp-and-otlphttp');
  t.equal(slug('Matching records: `include` / `exclude`'), 'matching-records-include--exclude');
  t.equal(slug('D12. The queue lock works across containers'), 'd12-the-queue-lock-works-across-containers');
  t.equal(slug('fsync: interval by default; acknowledged means "in the OS"'), 'fsync-interval-by-default-acknowledged-means-in-the-os');
  t.equal(slug('Inserts use INSERT … SELECT FROM format(JSONCompactEachRow, …)'), 'inserts-use-insert--select-from-formatjsoncompacteachrow-');
  t.equal(slug('`src/pipeline/` holds the core contract'), 'srcpipeline-holds-the-core-contract');
  t.equal(slug('Send from an [SDK](sdk.md)'), 'send-from-an-sdk');
});

t.test('a broken link or anchor is reported, and nothing else', async (t) => {
  const root = tempDir('links');
  mkdirSync(join(root, 'docs'));
  mkdirSync(join(root, 'config'));
  writeFileSync(join(root, 'docs', 'guide.md'), ['# Guide', '', '## Set up', '', '## Set up', '', '<a id="legacy"></a>', '', '```', '## Not a heading', '```', ''].join('\n'));
  writeFileSync(
    join(root, 'README.md'),
    [
      '# Readme',
      '',
      'Good: [guide](docs/guide.md), [again](docs/guide.md#set-up-1), [old](docs/guide.md#legacy), [folder](config/),',
      '[here](#readme), [site](https://example.com/x.md#nowhere), [mail](mailto:a@example.com).',
      'Bad: [missing](docs/missing.md), [anchor](docs/guide.md#not-a-heading), [self](#nowhere).',
      'Not links: `[code](docs/missing.md)`, and in a block:',
      '',
      '```md',
      '[block](docs/missing.md)',
      '```',
      '',
      '[ref]: docs/absent.md',
      '',
    ].join('\n'),
  );
  t.same(brokenLinks(root, ['README.md', 'docs/guide.md']), [
    'README.md:5: docs/missing.md: no such file docs/missing.md',
    'README.md:5: docs/guide.md#not-a-heading: no heading #not-a-heading in docs/guide.md',
    'README.md:5: #nowhere: no heading #nowhere in README.md',
    'README.md:12: docs/absent.md: no such file docs/absent.md',
  ]);
});

t.test('every relative link of the markdown files points to a file and heading that exist', async (t) => {
  const files = markdownFiles();
  for (const expected of ['README.md', 'docs/configuration.md', 'docs/decisions.md', 'src/receivers/otlp/README.md', 'helm/otelhouse/README.md', 'deploy/README.md']) {
    t.ok(files.includes(expected), `${expected} is checked`);
  }
  t.ok(files.length >= 25, `${files.length} markdown files`);
  t.same(brokenLinks(PROJECT_ROOT, files), [], 'broken links');
});
