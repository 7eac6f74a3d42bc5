// Package correctness on what would be published. First, every entry of every package is loaded
// in a fresh Node process, once with require() and once with import(), and must export the same
// non-empty set of names. Then each package is packed into a tarball, and publint and
// @arethetypeswrong/cli run on it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const packages = ['core', 'react', 'vue', 'server', 'devtools', 'redis'];
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
    // The production build (`default`) and, where there is one, the development build.
    for (const variant of ['default', 'development']) {
      if (!target.import[variant]) continue;
      const label = `@tidewire/${name}${entry.slice(1)}${variant === 'default' ? '' : ` (${variant})`}`;
      try {
        const required = exportsOf(resolve(dir, target.require[variant]), 'require');
        const imported = exportsOf(resolve(dir, target.import[variant]), 'import');
        if (!required.length || JSON.stringify(required) !== JSON.stringify(imported))
          throw new Error(`require() gave [${required}], import() gave [${imported}]`);
        console.log(`  ok   ${label.padEnd(40)} ${required.join(', ')}`);
      } catch (error) {
        failed = true;
        console.log(`  FAIL ${label.padEnd(40)} ${error.message.split('\n')[0]}`);
      }
    }
  }
}

// What only the development build carries must be in it, and nowhere in the production build.
console.log('\n── the development build says what to do; the production build leaves it out');
{
  const advice = 'No Tidewire endpoint at this path';
  const check = (file, expected) => {
    const text = file.endsWith('/')
      ? readdirSync(file).map((name) => readFileSync(join(file, name), 'utf8').toString())
      : [readFileSync(file, 'utf8')];
    const has = text.some((code) => code.includes(advice));
    const ok = has === expected;
    failed ||= !ok;
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${file} ${has ? 'has' : 'has no'} advice`);
  };
  for (const file of ['index.js', 'index.cjs', 'tidewire.min.js'])
    check(join('packages/core/dist', file), false);
  // The development entries keep what they share in chunks: the folder as a whole.
  check('packages/core/dist/development/', true);
  check('packages/core/dist/tidewire.development.js', true);
  // Node resolves the development build (the `node` condition): a misconfiguration is a typed error.
  const code = `const { createClient } = await import('@tidewire/core');
try { createClient({ url: 'ws://example.com/tidewire' }); console.log('no error'); }
catch (e) { console.log(e.name + ' ' + e.message); }`;
  const answer = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: 'packages/react',
    encoding: 'utf8',
  }).trim();
  const ok = answer.startsWith(
    'TidewireError invalid_options: url must be an http:// or https:// URL',
  );
  failed ||= !ok;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} import('@tidewire/core') in Node: ${answer}`);
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
