// Bundles the web console into dist/console/ for the console extension to serve: index.html and
// content-hashed app-<hash>.js/.css (cached for good by the server; index.html is not, so a new build shows at once).
// Everything the console needs is in these files: it works with no network.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '../../../../dist/console');

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  entryPoints: { app: join(here, 'main.tsx') },
  outdir,
  entryNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = outputs.find((file) => file.endsWith('.js'));
const style = outputs.find((file) => file.endsWith('.css'));
const html = (await readFile(join(here, 'index.html'), 'utf8'))
  .replace('/app.js', `/${script}`)
  .replace('/app.css', `/${style}`);
await writeFile(join(outdir, 'index.html'), html);
