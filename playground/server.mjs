// Starts the playground: `pnpm run playground` (or `npm start`) builds first, then runs this.
// PORT picks the port (default 5173). HTTPS=1 serves HTTPS with HTTP/2, with the repository's
// test certificate (testing/tls) unless TLS_CERT and TLS_KEY name PEM files of your own.
import { readFileSync } from 'node:fs';
import { startPlayground } from './dist/server.js';

const port = Number(process.env.PORT ?? 5173);
const https = process.env.HTTPS === '1' || process.env.HTTPS === 'true';
const tlsFile = (variable, fallback) =>
  readFileSync(process.env[variable] ?? new URL(`../testing/tls/${fallback}`, import.meta.url));
const tls = https
  ? { cert: tlsFile('TLS_CERT', 'localhost.pem'), key: tlsFile('TLS_KEY', 'localhost-key.pem') }
  : undefined;
const playground = await startPlayground({ port, tls });
if (https && !process.env.TLS_CERT) {
  console.log('HTTPS with the self-signed test certificate: your browser will ask to accept it.');
}
console.log(`Tidewire playground running at ${playground.url}`);
console.log('  Vanilla  %svanilla', playground.url);
console.log('  React    %sreact', playground.url);
console.log('  Vue      %svue', playground.url);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 3000).unref();
  void playground.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
