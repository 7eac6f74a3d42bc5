// Size budgets, measured on the built files: each entry is bundled the way an
// app would consume it (framework and core external where they are the user's
// own dependency), minified with terser, then gzip- and brotli-compressed.
// Exits non-zero when any budget is exceeded.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import nodeResolve from '@rollup/plugin-node-resolve';
import { rollup } from 'rollup';
import { minify } from 'terser';

const KB = 1024;
const budgets = [
  // The product's core budget: 7 KB. Readable code wins over bytes within it.
  { name: '@tidewire/core (whole)', file: 'packages/core/dist/index.js', limit: 7 * KB },
  {
    name: '@tidewire/core (global build)',
    file: 'packages/core/dist/tidewire.min.js',
    limit: 7 * KB,
    bundled: true,
  },
  // What bundlers pick in development (the `development` condition) and Node runs: the same core
  // plus a sentence of advice per error, the options checks and the decision logs. Never shipped by
  // a production build; its budget only keeps the additions in sight.
  {
    name: '@tidewire/core (development build)',
    file: 'packages/core/dist/development/index.js',
    limit: 10 * KB,
  },
  // One transport each: the whole core built without the other transport's code, so that an app
  // that uses one ships none of the other (about 1 KB less). Budgets a little over their size.
  // `without`: text of the other transport's code that must not be in the bundle.
  {
    name: '@tidewire/core/sse (SSE only)',
    file: 'packages/core/dist/sse.js',
    limit: 6.5 * KB,
    without: ['/ws?v=2', 'addEventListener("open"'],
  },
  {
    name: '@tidewire/core/websocket (WS only)',
    file: 'packages/core/dist/websocket.js',
    limit: 6.5 * KB,
    without: ['text/event-stream', 'TextDecoder'],
  },
  // Optional entries, measured whole (with the parts they share with the main entry).
  {
    name: '@tidewire/core/stream (openStream)',
    file: 'packages/core/dist/stream.js',
    limit: 5 * KB,
  },
  // An app that opens one kind of stream imports its function and ships one transport: without
  // the WebSocket transport (about 0.3 KB), or without the SSE reader (about 1.2 KB).
  {
    name: '@tidewire/core/stream (openSseStream)',
    file: 'packages/core/dist/stream.js',
    only: 'openSseStream',
    limit: 4.25 * KB,
    without: ['addEventListener("open"'],
  },
  {
    name: '@tidewire/core/stream (openWebSocketStream)',
    file: 'packages/core/dist/stream.js',
    only: 'openWebSocketStream',
    limit: 3.5 * KB,
    without: ['text/event-stream', 'TextDecoder'],
  },
  { name: '@tidewire/core/persist', file: 'packages/core/dist/persist.js', limit: 1 * KB },
  // Measured whole, with the core it wraps, and on its own (core external).
  {
    name: '@tidewire/core/schema (with the core)',
    file: 'packages/core/dist/schema.js',
    limit: 7.75 * KB,
  },
  // Measured whole, and budgeted as what it adds to the core (`over`): an app that shares its
  // connection across tabs pays this on top of the core. Issue 15 aimed at 1.5 KB; the election,
  // relay, catching-up, publish relay and the watch on tabs that end without a goodbye measure
  // 2.6 KB (packages/core/README.md, Size).
  {
    name: '@tidewire/core/share (over the core)',
    file: 'packages/core/dist/share.js',
    over: '@tidewire/core (whole)',
    limit: 2.75 * KB,
  },
  // Bindings are measured with the core's channel store bundled in: it exists only for them.
  {
    name: '@tidewire/react (without core, react)',
    file: 'packages/react/dist/index.js',
    limit: 1.5 * KB,
  },
  {
    name: '@tidewire/vue (without core, vue)',
    file: 'packages/vue/dist/index.js',
    limit: 1.5 * KB,
  },
  // The devtools panel is outside the core's budget: an app bundles it only where it imports it,
  // usually behind a development check. Its budget is its size today (four tabs, a model that
  // mirrors the client's counting, its stylesheet: 8.8 KB) plus about 15%, so growth is a decision.
  {
    name: '@tidewire/devtools (core external)',
    file: 'packages/devtools/dist/index.js',
    limit: 10 * KB,
  },
  // The wrappers alone (the panel they mount, `./index.js`, is counted above): one effect or one
  // component with mount and unmount hooks, with room for a prop or two.
  {
    name: '@tidewire/devtools/react (wrapper only)',
    file: 'packages/devtools/dist/react.js',
    limit: 0.25 * KB,
    external: ['./index.js'],
  },
  {
    name: '@tidewire/devtools/vue (wrapper only)',
    file: 'packages/devtools/dist/vue.js',
    limit: 0.4 * KB,
    external: ['./index.js'],
  },
];

const external = (id) =>
  /^(react|react-dom|vue)(\/|$)/.test(id) || /^@tidewire\/core(\/protocol)?$/.test(id);

/** A virtual entry that imports one export of `file`, as an app that uses only it would. */
function onlyPlugin(file, name) {
  const id = '\0only';
  return {
    name: 'only',
    resolveId: (source) => (source === id ? id : null),
    load: (source) =>
      source === id ? `export { ${name} } from ${JSON.stringify(resolve(file))};` : null,
  };
}

async function measure({ file, bundled, only, external: own = [] }) {
  let code = readFileSync(file, 'utf8');
  if (!bundled) {
    const bundle = await rollup({
      input: only ? '\0only' : file,
      external: (id) => external(id) || own.includes(id),
      plugins: [
        ...(only ? [onlyPlugin(file, only)] : []),
        nodeResolve({ exportConditions: ['import'] }),
      ],
      logLevel: 'silent',
    });
    const { output } = await bundle.generate({ format: 'es' });
    await bundle.close();
    code = (await minify(output[0].code, { module: true, compress: { passes: 2 } })).code ?? '';
  }
  return {
    code,
    min: Buffer.byteLength(code),
    gzip: gzipSync(code, { level: 9 }).length,
    brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

const fmt = (n) => `${(n / KB).toFixed(2)} KB (${n} B)`;
let failed = false;
/** Sizes measured so far, by budget name, for the budgets that count what they add (`over`). */
const measured = new Map();
console.log('size budgets (min+gzip):');
for (const b of budgets) {
  let s = await measure(b);
  measured.set(b.name, s);
  const stray = (b.without ?? []).filter((text) => s.code.includes(text));
  if (b.over) {
    const base = measured.get(b.over);
    s = { gzip: s.gzip - base.gzip, brotli: s.brotli - base.brotli, min: s.min - base.min };
  }
  const ok = s.gzip <= b.limit && stray.length === 0;
  failed ||= !ok;
  console.log(
    `  ${ok ? 'ok  ' : 'FAIL'} ${b.name.padEnd(40)} ${fmt(s.gzip).padStart(9)} gzip  ${fmt(s.brotli).padStart(9)} brotli  ${fmt(s.min).padStart(9)} min   budget ${fmt(b.limit)}`,
  );
  if (stray.length) console.log(`       it holds code it must not: ${stray.join(', ')}`);
}
if (failed) {
  console.error('size budget exceeded');
  process.exit(1);
}
