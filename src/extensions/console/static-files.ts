import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The web console's files, built by `npm run build` into dist/console/ (this file is dist/src/extensions/console/). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

/**
 * A bundler's content-hashed name (app-3f9a1c2b.js, app.3f9a1c2b.css): it never changes content, so it is cached for
 * good.
 */
const HASHED = /[.-][A-Za-z0-9_]{8,}\.[a-z0-9]+$/;

/**
 * Serves the console's files: a path that is no file gets index.html (the console routes in the
 * browser), with no-cache so a new build is picked up; hashed assets are immutable.
 */
export class StaticFiles {
  constructor(private readonly root: string = CONSOLE_DIR) {}

  async serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('bad path encoding\n');
      return;
    }
    const file = normalize(join(this.root, decoded));
    const inside = file.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep);
    if (inside && !decoded.endsWith('/') && (await isFile(file))) {
      this.send(req, res, file, HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
      return;
    }
    const index = join(this.root, 'index.html');
    if (!(await isFile(index))) {
      res
        .writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
        .end(`the web console is not built (no ${index}): run npm run build\n`);
      return;
    }
    // A missing asset is a 404, not the page: a browser would run HTML as a script.
    if (extname(decoded) !== '' && extname(decoded) !== '.html') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    this.send(req, res, index, 'no-cache');
  }

  private send(req: IncomingMessage, res: ServerResponse, file: string, cacheControl: string): void {
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Cache-Control': cacheControl,
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
