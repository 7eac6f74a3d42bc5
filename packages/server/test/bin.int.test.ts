import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The bin runs as its own process, as users run it: bundled from source here so the
// test needs no prior build.
const dir = mkdtempSync(join(tmpdir(), 'tidewire-bin-'));
const bin = join(dir, 'bin.mjs');

function start(args: string[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d;
      const match = /listening on (\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d;
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}${err}`)));
  });
  return { child, url };
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

describe('tidewire-server (bin)', () => {
  beforeAll(() => {
    buildSync({
      entryPoints: [fileURLToPath(new URL('../src/bin.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: bin,
      conditions: ['@tidewire/source'],
      external: ['bufferutil', 'utf-8-validate'],
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should print its URL, stream events, and stop cleanly on SIGTERM', async () => {
    const { child, url } = start(['--port', '0', '--path', '/rt']);
    const base = await url;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/rt$/);
    const controller = new AbortController();
    const res = await fetch(`${base}/sse?channel=news`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('"subscribed"'))
      text += new TextDecoder().decode((await reader.read()).value);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    controller.abort();
  });

  it('should refuse an invalid port with exit code 2', async () => {
    const { child, url } = start(['--port', 'eighty']);
    const exited = exitOf(child);
    await expect(url).rejects.toThrow(/invalid --port/);
    expect(await exited).toBe(2);
  });
});
