// A private copy of the built @tidewire packages for the length of one run.
// Other work rebuilds packages/*/dist while benchmarks run; a trial that meets
// a half-written dist would report a failure that is not Tidewire's. The copy
// lives under bench/node_modules so its own imports (ws, @tidewire/core/protocol)
// resolve as they do from the workspace.
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(bench, '..');
const ENV = 'TIDEWIRE_BENCH_SNAPSHOT';

/** The module specifier of a Tidewire package: the snapshot when one is in use. */
export function tidewireModule(name, file = 'index.js') {
  const dir = process.env[ENV];
  return dir
    ? pathToFileURL(join(dir, 'node_modules/@tidewire', name, 'dist', file)).href
    : `@tidewire/${name}`;
}

/** Path of the global build the browser page loads. */
export function globalBuildPath() {
  return join(coreDistPath(), 'tidewire.min.js');
}

/** The folder of @tidewire/core's built files (ES modules and chunks), for pages that import them. */
export function coreDistPath() {
  const dir = process.env[ENV] ?? join(root, 'packages');
  const base = process.env[ENV] ? join(dir, 'node_modules/@tidewire/core') : join(dir, 'core');
  return join(base, 'dist');
}

/**
 * Copies packages/{core,server}/dist, checks that the copy loads, and points
 * every later trial (child processes inherit the environment) at it. Returns
 * false, leaving the workspace packages in use, when there is no complete build.
 */
export async function snapshotBuild({ attempts = 5 } = {}) {
  const dir = join(bench, 'node_modules/.tidewire-snapshot');
  for (let attempt = 1; attempt <= attempts; attempt++) {
    rmSync(dir, { recursive: true, force: true });
    try {
      for (const name of ['core', 'server']) {
        const from = join(root, 'packages', name);
        if (!existsSync(join(from, 'dist/index.js'))) throw new Error(`${name} is not built`);
        const to = join(dir, 'node_modules/@tidewire', name);
        mkdirSync(to, { recursive: true });
        cpSync(join(from, 'package.json'), join(to, 'package.json'));
        cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
      }
      process.env[ENV] = dir;
      await import(tidewireModule('core'));
      await import(tidewireModule('server'));
      return true;
    } catch {
      delete process.env[ENV];
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  return false;
}
