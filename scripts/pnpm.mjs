// Runs pnpm on a machine that may have only Node and npm. Uses the pinned pnpm
// when it is on PATH; otherwise installs that exact version into .cache/pnpm
// with npm and puts it first on PATH, so scripts that call `pnpm` themselves
// find it too. Installs the workspace, then runs `pnpm <args>`. `npm start` and
// `npm test` call this, so both work on a fresh clone.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = packageManager.replace(/^pnpm@/, '');
const shell = process.platform === 'win32';

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function hasPinnedPnpm() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8', shell });
  return probe.status === 0 && probe.stdout.trim() === version;
}

if (!hasPinnedPnpm()) {
  const prefix = join(root, '.cache', 'pnpm');
  const bin = join(prefix, 'node_modules', '.bin');
  if (!existsSync(join(bin, shell ? 'pnpm.cmd' : 'pnpm'))) {
    console.log(`installing pnpm ${version} into .cache/pnpm`);
    const status = run('npm', [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `pnpm@${version}`,
    ]);
    if (status !== 0) process.exit(status);
  }
  process.env.PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`;
}

const frozen = process.env.CI ? ['--frozen-lockfile'] : [];
const installStatus = run('pnpm', ['install', ...frozen]);
if (installStatus !== 0) process.exit(installStatus);
process.exit(run('pnpm', process.argv.slice(2)));
