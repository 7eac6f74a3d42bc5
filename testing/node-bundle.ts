import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/** A program bundled for a child `node` process: built on first use, deleted by `remove()`. */
export interface NodeBundle {
  /** The bundle's path; builds it the first time. */
  file(): string;
  /** Deletes the bundle, if it was built. For `afterAll`. */
  remove(): void;
}

/**
 * Bundles the TypeScript program at `entry` into one ES module that a child `node` process
 * runs, the workspace's packages taken from their sources (`@tidewire/source`). `name` names
 * its scratch folder and file.
 */
export function nodeBundle(entry: URL, name: string): NodeBundle {
  let built: { dir: string; file: string } | undefined;
  return {
    file() {
      if (built !== undefined) return built.file;
      const dir = mkdtempSync(join(tmpdir(), `tidewire-${name}-`));
      const file = join(dir, `${name}.mjs`);
      buildSync({
        entryPoints: [fileURLToPath(entry)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        outfile: file,
        conditions: ['@tidewire/source'],
        // ws's optional native add-ons, loaded with require() inside try/catch.
        external: ['bufferutil', 'utf-8-validate'],
        banner: {
          js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        },
        logLevel: 'silent',
      });
      built = { dir, file };
      return file;
    },
    remove() {
      if (built !== undefined) rmSync(built.dir, { recursive: true, force: true });
      built = undefined;
    },
  };
}
