// Package correctness on what would be published. First, every entry of every package is loaded
// in a fresh Node process, once with require() and once with import(), and must export the same
// non-empty set of names. Then each package is packed into a tarball, and publint and
// @arethetypeswrong/cli run on it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const packages = ['core', 'react', 'vue', 'server', 'redis'];
const out = mkdtempSync(join(tmpdir(), 'tidewire-pack-'));
const bin = (name) => join('node_modules', '.bin', name);
let failed = false;

/** The sorted export names of a module, as a fresh Node process sees them. */
function exportsOf(file, how) {
  const code =
    how === 'require'
      ? `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(file)})).sort()))`
      : `const m = await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(JSON.stringify(Object.keys(m).sort()))`;
  const args = how === 'require' ? ['-e', code] : ['--input-type=module', '-e', code];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }));
}

console.log('── every entry from require() and import(), each in a fresh process');
for (const name of packages) {
  const dir = join('packages', name);
  const { exports } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const [entry, target] of Object.entries(exports)) {
    if (typeof target !== 'object') continue;
    const label = `@tidewire/${name}${entry.slice(1)}`;
    try {
      const required = exportsOf(resolve(dir, target.require.default), 'require');
      const imported = exportsOf(resolve(dir, target.import.default), 'import');
      if (!required.length || JSON.stringify(required) !== JSON.stringify(imported))
        throw new Error(`require() gave [${required}], import() gave [${imported}]`);
      console.log(`  ok   ${label.padEnd(26)} ${required.join(', ')}`);
    } catch (error) {
      failed = true;
      console.log(`  FAIL ${label.padEnd(26)} ${error.message.split('\n')[0]}`);
    }
  }
}

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
