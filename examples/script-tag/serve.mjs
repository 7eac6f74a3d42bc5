// Serves public/ and the two script-tag builds of @tidewire/core (run `pnpm build` first), as
// any static file server would. The Tidewire server is examples/express-server.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PORT = Number(process.env.PORT ?? 5500);
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(
  dirname(createRequire(import.meta.url).resolve('@tidewire/core/package.json')),
  'dist',
);

/** @type {Record<string, string>} */
const files = {
  '/': join(here, 'public/index.html'),
  '/app.js': join(here, 'public/app.js'),
  '/js/tidewire.min.js': join(dist, 'tidewire.min.js'),
  '/js/tidewire.development.js': join(dist, 'tidewire.development.js'),
};
/** @type {Record<string, string>} */
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

http
  .createServer(async (req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://localhost').pathname];
    const body = file === undefined ? undefined : await readFile(file).catch(() => undefined);
    if (file === undefined || body === undefined) {
      res
        .writeHead(404)
        .end(file === undefined ? 'not found' : `${file} is missing: run pnpm build`);
      return;
    }
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  })
  .listen(PORT, () => console.log(`Page at http://localhost:${PORT}`));
