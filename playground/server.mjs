// Starts the playground: `pnpm run playground` (or `npm start`) builds first, then runs this.
// PORT picks the port (default 5173).
import { startPlayground } from './dist/server.js';

const port = Number(process.env.PORT ?? 5173);
const playground = await startPlayground({ port });
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
