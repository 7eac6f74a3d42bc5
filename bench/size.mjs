// Size: what each client adds to an app bundle, min+gzip and brotli.
//
// Every row is a tiny entry module bundled the way an app bundler would see it
// (rollup + node-resolve with the browser condition + commonjs), the framework
// left external, minified with terser, then compressed. The entries are a
// table: adjust `ours` when @tidewire/core's exports change.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import commonjs from '@rollup/plugin-commonjs';
import nodeResolve from '@rollup/plugin-node-resolve';
import { rollup } from 'rollup';
import { minify } from 'terser';
import { kb, printTable } from './lib/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const react = ['react', 'react-dom'];
const vue = ['vue'];
/** The core's main entry only: its other entries (`/store`) are bundled with a binding. */
const core = ['@tidewire/core='];

/**
 * Our rows. `code` is the app's import; `external` what the app already ships.
 * `file` measures a prebuilt bundle as it is (the global build).
 */
export const ours = [
  { name: '@tidewire/core (whole)', code: "export * from '@tidewire/core';" },
  // openStream(url, options): one SSE stream, without the client.
  {
    name: '@tidewire/core/stream (openStream)',
    code: "export { openStream } from '@tidewire/core/stream';",
  },
  // The same with one kind of stream, as an app that opens only SSE or only WebSocket imports it.
  {
    name: '@tidewire/core/stream (openSseStream)',
    code: "export { openSseStream } from '@tidewire/core/stream';",
  },
  {
    name: '@tidewire/core/stream (openWebSocketStream)',
    code: "export { openWebSocketStream } from '@tidewire/core/stream';",
  },
  { name: '@tidewire/core/persist', code: "export * from '@tidewire/core/persist';" },
  // The client whose tabs share one connection: the core and the share code together.
  { name: '@tidewire/core/share (with the core)', code: "export * from '@tidewire/core/share';" },
  // The client with one transport: the entries built without the other one.
  { name: '@tidewire/core/sse (SSE only)', code: "export * from '@tidewire/core/sse';" },
  {
    name: '@tidewire/core/websocket (WebSocket only)',
    code: "export * from '@tidewire/core/websocket';",
  },
  // What the React and Vue bindings build on: an app with a binding ships it too.
  { name: '@tidewire/core/store', code: "export * from '@tidewire/core/store';" },
  { name: '@tidewire/core global build', file: 'packages/core/dist/tidewire.min.js' },
  // The bindings with @tidewire/core/store, which they import, and without the core's
  // main entry and the framework, which the app ships anyway.
  {
    name: '@tidewire/react with core/store (without core, react)',
    code: "export * from '@tidewire/react';",
    external: [...react, ...core],
  },
  {
    name: '@tidewire/vue with core/store (without core, vue)',
    code: "export * from '@tidewire/vue';",
    external: [...vue, ...core],
  },
];

/** The peers' main client imports, as their READMEs show them. */
export const peers = [
  { name: 'socket.io-client', code: "export { io } from 'socket.io-client';" },
  { name: 'centrifuge', code: "export { Centrifuge } from 'centrifuge';" },
  { name: 'pusher-js', code: "export { default } from 'pusher-js';" },
  { name: 'ably (Realtime)', code: "export { Realtime } from 'ably';" },
  { name: 'partysocket', code: "export { default } from 'partysocket';" },
  { name: 'reconnecting-websocket', code: "export { default } from 'reconnecting-websocket';" },
  {
    name: '@microsoft/fetch-event-source',
    code: "export { fetchEventSource } from '@microsoft/fetch-event-source';",
  },
  { name: 'eventsource', code: "export { EventSource } from 'eventsource';" },
  { name: 'graphql-ws (client)', code: "export { createClient } from 'graphql-ws';" },
  { name: 'phoenix (Socket)', code: "export { Socket } from 'phoenix';" },
  {
    name: 'react-use-websocket (without react)',
    code: "export { default } from 'react-use-websocket';",
    external: react,
  },
  {
    name: '@vueuse/core useWebSocket (without vue)',
    code: "export { useWebSocket } from '@vueuse/core';",
    external: vue,
  },
  {
    name: '@vueuse/core useEventSource (without vue)',
    code: "export { useEventSource } from '@vueuse/core';",
    external: vue,
  },
];

/** Serves one in-memory entry module, placed in bench/ so bare imports resolve from here. */
function entryPlugin(code) {
  const id = join(here, '__size_entry__.mjs');
  return {
    name: 'size-entry',
    resolveId: (source) => (source === id ? id : null),
    load: (loaded) => (loaded === id ? code : null),
    id,
  };
}

async function bundle({ code, external = [] }) {
  const entry = entryPlugin(code);
  // `name=` is that module alone; `name`, the module and its subpaths.
  const isExternal = (id) =>
    external.some((e) =>
      e.endsWith('=') ? id === e.slice(0, -1) : id === e || id.startsWith(`${e}/`),
    );
  const build = await rollup({
    input: entry.id,
    external: isExternal,
    plugins: [entry, nodeResolve({ browser: true, preferBuiltins: false }), commonjs()],
    logLevel: 'silent',
  });
  const { output } = await build.generate({ format: 'es' });
  await build.close();
  const result = await minify(output[0].code, {
    module: true,
    compress: { passes: 2, global_defs: { 'process.env.NODE_ENV': 'production' } },
  });
  return result.code ?? '';
}

function compressed(code) {
  return {
    min: Buffer.byteLength(code),
    gzip: gzipSync(code, { level: 9 }).length,
    brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

async function measure(row) {
  try {
    if (row.file) {
      const path = join(root, row.file);
      if (!existsSync(path)) return { error: `missing ${row.file} (run pnpm build)` };
      return compressed(readFileSync(path, 'utf8'));
    }
    return compressed(await bundle(row));
  } catch (error) {
    const message = String(error?.message ?? error);
    const unbuilt = message.match(/(packages\/\w+\/dist\/[\w.]+)/);
    return {
      error:
        unbuilt && message.includes('ENOENT') ? `missing ${unbuilt[1]}` : message.split('\n')[0],
    };
  }
}

/** Core whole must stay within this (issue 7). */
export const CORE_TARGET_BYTES = 6 * 1024;

export async function run() {
  const results = [];
  for (const [group, rows] of [
    ['tidewire', ours],
    ['peer', peers],
  ]) {
    for (const row of rows) results.push({ group, name: row.name, ...(await measure(row)) });
  }
  printTable(
    'Size (min+gzip, brotli; framework and core external where noted)',
    ['bundle', 'min', 'gzip', 'brotli'],
    results.map((r) =>
      r.error
        ? [r.name, `error: ${r.error}`, '', '']
        : [r.name, kb(r.min), kb(r.gzip), kb(r.brotli)],
    ),
  );
  const whole = results.find((r) => r.name === ours[0].name);
  const target = {
    name: 'core whole ≤ 6 KB min+gzip',
    status:
      whole?.gzip === undefined ? 'pending' : whole.gzip <= CORE_TARGET_BYTES ? 'met' : 'missed',
    value: whole?.gzip,
  };
  console.log(
    `target: ${target.name}: ${target.status}${whole?.gzip ? ` (${kb(whole.gzip)})` : ''}`,
  );
  return { results, targets: [target] };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
