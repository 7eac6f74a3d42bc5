// Runs pnpm on a machine that may have only Node and npm: uses the pinned pnpm
// when it is on PATH, otherwise fetches that exact version through npx. Installs
// the workspace first, then runs `pnpm <args>`. This is what `npm start` and
// `npm test` call, so both work on a fresh clone.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const { packageManager } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const version = packageManager.replace(/^pnpm@/, '');
const windows = process.platform === 'win32';

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: windows });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function installed() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8', shell: windows });
  return probe.status === 0 && probe.stdout.trim() === version;
}

const pnpm = installed() ? ['pnpm', []] : ['npx', ['--yes', `pnpm@${version}`]];
const pnpmRun = (args) => run(pnpm[0], [...pnpm[1], ...args]);

const frozen = process.env.CI ? ['--frozen-lockfile'] : [];
const installStatus = pnpmRun(['install', ...frozen]);
if (installStatus !== 0) process.exit(installStatus);
process.exit(pnpmRun(process.argv.slice(2)));
