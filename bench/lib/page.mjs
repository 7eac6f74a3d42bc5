// The browser benchmark's page: an empty document that loads Tidewire's global
// build. Served by the page server and, for same-origin runs, by the Tidewire
// server's own fallback handler.
import { readFileSync } from 'node:fs';
import { globalBuildPath } from './snapshot.mjs';

export function servePage(req, res) {
  if (req.url === '/tidewire.min.js') {
    try {
      const body = readFileSync(globalBuildPath());
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>bench</title><script src="/tidewire.min.js"></script>');
}
