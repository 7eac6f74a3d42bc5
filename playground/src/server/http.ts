import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The policy every page is served with: scripts, styles and connections from this
 * origin only; no inline script or style and no eval.
 */
export const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'";

const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  map: 'application/json',
};

/** The pages and their HTML files. */
const pages: Record<string, string> = {
  '/': 'index.html',
  '/vanilla': 'vanilla.html',
  '/react': 'react.html',
  '/vue': 'vue.html',
};

/** The `playground/` folder, found from this module whether it runs from `src/` or `dist/`. */
export function findPlaygroundDir(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  while (!existsSync(join(dir, 'public', 'vanilla.html'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('playground/public not found');
    dir = parent;
  }
  return dir;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Reads a small JSON body; anything else (or over 16 KiB) is `undefined`. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 16_384) return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pages (`/`, `/vanilla`, `/react`, `/vue`), `public/` under `/assets/`, the page
 * bundles under `/js/`, and the core's script-tag builds at `/js/tidewire.min.js` and
 * `/js/tidewire.development.js`.
 */
export function serveStatic(
  dir: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendJson(res, 405, { error: 'method not allowed' });
    return;
  }
  const { pathname } = url;
  const page = pages[pathname.replace(/\/$/, '') || '/'];
  let file: string | undefined;
  if (page !== undefined) file = join(dir, 'public', page);
  else if (pathname === '/js/tidewire.min.js' || pathname === '/js/tidewire.development.js') {
    file = join(dir, 'node_modules', '@tidewire', 'core', 'dist', pathname.slice(4));
  } else if (/^\/js\/[\w.-]+$/.test(pathname)) file = join(dir, 'dist', pathname.slice(4));
  else if (/^\/assets\/[\w.-]+$/.test(pathname)) file = join(dir, 'public', pathname.slice(8));

  if (file === undefined || !existsSync(file) || !statSync(file).isFile()) {
    const hint = pathname.startsWith('/js/') ? ' (run `pnpm build` first)' : '';
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`not found: ${pathname}${hint}\n`);
    return;
  }
  const ext = file.slice(file.lastIndexOf('.') + 1);
  res.writeHead(200, {
    'Content-Type': types[ext] ?? 'application/octet-stream',
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    ...(ext === 'html'
      ? { 'Content-Security-Policy': contentSecurityPolicy, 'Referrer-Policy': 'no-referrer' }
      : {}),
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}
