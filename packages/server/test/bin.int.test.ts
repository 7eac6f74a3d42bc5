import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

// The bin runs as users run it: the built file, in a process of its own.
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const packageJson = fileURLToPath(new URL('../package.json', import.meta.url));

/** Longest a run may take before the test kills it and fails. */
const RUN_TIMEOUT_MS = 10_000;

/** Children still running, stopped by pid when their test ends. */
const running = new Set<ChildProcess>();

interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The non-empty lines of a stream's output. */
const linesOf = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/** Starts the bin; `exited` resolves with its exit code and everything it printed. */
function start(args: string[]): { child: ChildProcess; exited: Promise<Output> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exited = new Promise<Output>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${RUN_TIMEOUT_MS} ms: ${stdout}${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, exited };
}

/** Runs the bin to its end. */
const run = (args: string[]): Promise<Output> => start(args).exited;

/** Waits for the URL the bin prints once it listens. */
function urlOf(child: ChildProcess, exited: Promise<Output>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /listening on (\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(
      (o) => reject(new Error(`exited with ${o.code}: ${o.stdout}${o.stderr}`)),
      reject,
    );
  });
}

/** Holds a free loopback port, as another program would. */
async function occupyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

describe('tidewire-server (bin)', () => {
  beforeAll(() => {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first`);
  });
  afterEach(() => {
    for (const child of running) child.kill('SIGKILL');
  });

  it('should print its URL, warn once that anyone may subscribe and publish, stream events, and stop cleanly on SIGTERM', async () => {
    const { child, exited } = start(['--port', '0', '--path', '/rt']);
    const base = await urlOf(child, exited);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/rt$/);
    const controller = new AbortController();
    const res = await fetch(`${base}/sse?channel=news`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('"subscribed"'))
      text += new TextDecoder().decode((await reader.read()).value);
    child.kill('SIGTERM');
    const { code, stderr } = await exited;
    controller.abort();
    expect(code).toBe(0);
    expect(linesOf(stderr)).toEqual([
      expect.stringMatching(
        /^tidewire-server: warning: no authenticate hook, so anyone .* may subscribe to and publish on any channel\./,
      ),
    ]);
  });

  it('should print the usage for --help and exit with 0', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await run([flag]);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: tidewire-server \[options\]\n/);
      for (const option of ['--port', '--host', '--path', '--cors-origin', '--version'])
        expect(stdout).toContain(option);
      expect(stderr).toBe('');
    }
  });

  it('should print the version from package.json for --version and exit with 0', async () => {
    const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      expect(await run([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it.each([
    ['an unknown option', ['--bogus'], /^unknown option --bogus\./],
    ['an unknown short option', ['-x'], /^unknown option -x\./],
    ['a missing value at the end', ['--port'], /^missing value for --port\./],
    [
      'a missing value before another option',
      ['--host', '--port', '0'],
      /^missing value for --host\./,
    ],
    ['an empty value', ['--path='], /^missing value for --path\./],
    ['a value for a flag', ['--help=yes'], /^--help takes no value\./],
    ['an argument that is not an option', ['8080'], /^unexpected argument '8080'\./],
    [
      'a port that is not a number',
      ['--port', 'eighty'],
      /^invalid --port 'eighty': expected a whole number from 0 to 65535\./,
    ],
    ['a port out of range', ['--port', '65536'], /^invalid --port '65536'/],
  ])('should refuse %s with one line and exit code 2', async (_name, args, problem) => {
    const { code, stdout, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = linesOf(stderr);
    expect(lines).toHaveLength(1);
    const line = lines[0]!.replace(/^tidewire-server: /, '');
    expect(line).toMatch(problem);
    expect(line).toMatch(/ Run 'tidewire-server --help' for the options\.$/);
  });

  it('should refuse a port in use with one line and exit code 1', async () => {
    const { server, port } = await occupyPort();
    try {
      const { code, stdout, stderr } = await run(['--port', String(port)]);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(linesOf(stderr)).toEqual([
        `tidewire-server: port ${port} on 127.0.0.1 is already in use. Stop the process that holds it, or choose another port with --port (0 picks a free one).`,
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
