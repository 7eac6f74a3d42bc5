// Package correctness on what would be published: packs each package into a
// tarball, then runs publint and @arethetypeswrong/cli on it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const packages = ['core', 'react', 'vue', 'server'];
const out = mkdtempSync(join(tmpdir(), 'tidewire-pack-'));
const bin = (name) => join('node_modules', '.bin', name);
let failed = false;

try {
  for (const name of packages) {
    const dir = join('packages', name);
    execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: dir, stdio: 'ignore' });
    const tarball = join(
      out,
      readdirSync(out).find((f) => f.startsWith(`tidewire-${name}-`)) ?? '',
    );
    for (const [tool, args] of [
      ['publint', ['run', '--strict', tarball]],
      // node16 and bundler resolution (node10 cannot see subpath exports), and the
      // script-tag build is a classic script, not a module with types.
      [
        'attw',
        [
          tarball,
          '--profile',
          'node16',
          '--exclude-entrypoints',
          './tidewire.min.js',
          '--format',
          'table-flipped',
        ],
      ],
    ]) {
      console.log(`\n── ${tool} @tidewire/${name}`);
      try {
        execFileSync(bin(tool), args, { stdio: 'inherit' });
      } catch {
        failed = true;
      }
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
if (failed) {
  console.error('\npackage checks failed');
  process.exit(1);
}
