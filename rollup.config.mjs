// One build for every package: ESM + CJS + declarations, plus the core's global
// script-tag build. Run from the repository root: `pnpm build`.
import { readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import nodeResolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { dts } from 'rollup-plugin-dts';
import esbuild from 'rollup-plugin-esbuild';
import playground from './playground/rollup.config.mjs';

const target = 'es2022';

/** Everything a package depends on stays an import in its npm build. */
function externalsOf(dir) {
  const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
  const names = [
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
    ...builtinModules,
  ];
  return (id) => id.startsWith('node:') || names.some((n) => id === n || id.startsWith(`${n}/`));
}

/**
 * The value of `__DEV__` (see packages/core/src/dev.ts): false leaves out what only the
 * development build carries. `__SSE__` and `__WEBSOCKET__` (packages/core/src/transports.ts):
 * both transports, but in the core's one-transport entries.
 * @param {boolean} development
 * @param {'sse' | 'websocket'} [only] the one transport of the build
 */
const mode = (development, only) => ({
  __DEV__: String(development),
  __SSE__: String(only !== 'websocket'),
  __WEBSOCKET__: String(only !== 'sse'),
});

/**
 * @param {string} name package folder under packages/
 * @param {{ banner?: string, entries?: Record<string, string>, types?: Record<string, string>, development?: boolean }} [extra]
 *   `development`: also build a development variant into dist/development/.
 */
function packageBuild(name, extra = {}) {
  const dir = `packages/${name}`;
  // Start from an empty dist: files left by an earlier build would be packed and published.
  rmSync(`${dir}/dist`, { recursive: true, force: true });
  const external = externalsOf(dir);
  const input = extra.entries ?? { index: `${dir}/src/index.ts` };
  const banner = extra.banner;
  const variants = extra.development ? [false, true] : [false];
  return [
    ...variants.map((development) => ({
      input,
      external,
      plugins: [esbuild({ target, tsconfig: `${dir}/tsconfig.json`, define: mode(development) })],
      // A module-level directive such as 'use client' is dropped by rollup; the banner restores it.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      output: [
        {
          dir: development ? `${dir}/dist/development` : `${dir}/dist`,
          format: 'es',
          entryFileNames: '[name].js',
          chunkFileNames: '[name]-[hash].js',
          banner,
        },
        {
          dir: development ? `${dir}/dist/development` : `${dir}/dist`,
          format: 'cjs',
          entryFileNames: '[name].cjs',
          // Shared chunks too: a `.js` chunk is ESM in these packages, and the ESM output writes one
          // of the same name, so a CJS entry would require the ESM chunk and read undefined exports.
          chunkFileNames: '[name]-[hash].cjs',
          banner,
          exports: 'named',
        },
      ],
    })),
    {
      input: extra.types ?? { index: `${dir}/src/index.ts` },
      external,
      plugins: [dts({ tsconfig: `${dir}/tsconfig.json` })],
      output: [
        {
          dir: `${dir}/dist`,
          format: 'es',
          entryFileNames: '[name].d.ts',
          chunkFileNames: '[name]-[hash].d.ts',
        },
        {
          dir: `${dir}/dist`,
          format: 'es',
          entryFileNames: '[name].d.cts',
          chunkFileNames: '[name]-[hash].d.cts',
        },
      ],
    },
  ];
}

/**
 * `@tidewire/core/sse` and `@tidewire/core/websocket`: the whole core built with one transport,
 * each a build of its own (its defines differ from the main build's, so it shares no chunk), in
 * the same formats and variants as the core's other entries.
 */
const oneTransportBuilds = ['sse', 'websocket'].flatMap((only) => {
  const dir = 'packages/core';
  const input = { [only]: `${dir}/src/${only}.ts` };
  return [
    ...[false, true].map((development) => ({
      input,
      plugins: [
        esbuild({ target, tsconfig: `${dir}/tsconfig.json`, define: mode(development, only) }),
      ],
      output: ['es', 'cjs'].map((format) => ({
        dir: development ? `${dir}/dist/development` : `${dir}/dist`,
        format,
        entryFileNames: `[name].${format === 'es' ? 'js' : 'cjs'}`,
        exports: 'named',
      })),
    })),
    {
      input,
      plugins: [dts({ tsconfig: `${dir}/tsconfig.json` })],
      output: ['d.ts', 'd.cts'].map((ext) => ({
        dir: `${dir}/dist`,
        format: 'es',
        entryFileNames: `[name].${ext}`,
      })),
    },
  ];
});

/**
 * `<script src="tidewire.min.js">` → `window.Tidewire`, dependencies bundled in; and
 * `tidewire.development.js`, the development build, readable.
 */
const globalBuilds = [false, true].map((development) => ({
  input: 'packages/core/src/index.ts',
  plugins: [
    nodeResolve({ browser: true }),
    esbuild({ target, tsconfig: 'packages/core/tsconfig.json', define: mode(development) }),
  ],
  output: {
    file: `packages/core/dist/${development ? 'tidewire.development.js' : 'tidewire.min.js'}`,
    format: 'iife',
    name: 'Tidewire',
    plugins: development ? [] : [terser({ ecma: 2020, compress: { passes: 2 } })],
  },
}));

export default [
  ...packageBuild('core', {
    entries: {
      index: 'packages/core/src/index.ts',
      protocol: 'packages/core/src/protocol.ts',
      store: 'packages/core/src/store.ts',
      stream: 'packages/core/src/stream.ts',
      persist: 'packages/core/src/persist.ts',
      schema: 'packages/core/src/schema.ts',
      share: 'packages/core/src/share.ts',
    },
    types: {
      index: 'packages/core/src/index.ts',
      protocol: 'packages/core/src/protocol.ts',
      store: 'packages/core/src/store.ts',
      stream: 'packages/core/src/stream.ts',
      persist: 'packages/core/src/persist.ts',
      schema: 'packages/core/src/schema.ts',
      share: 'packages/core/src/share.ts',
    },
    development: true,
  }),
  ...oneTransportBuilds,
  ...globalBuilds,
  ...packageBuild('react', { banner: "'use client';" }),
  ...packageBuild('vue'),
  // The panel and its two wrappers: the wrappers import the panel's entry, so an app that mounts
  // it through React or Vue gets one copy.
  ...packageBuild('devtools', {
    entries: {
      index: 'packages/devtools/src/index.ts',
      react: 'packages/devtools/src/react.ts',
      vue: 'packages/devtools/src/vue.ts',
    },
    types: {
      index: 'packages/devtools/src/index.ts',
      react: 'packages/devtools/src/react.ts',
      vue: 'packages/devtools/src/vue.ts',
    },
  }),
  ...packageBuild('server', {
    entries: { index: 'packages/server/src/index.ts', bin: 'packages/server/src/bin.ts' },
  }),
  ...packageBuild('redis'),
  // The playground's page scripts and server module (playground/rollup.config.mjs).
  ...playground,
];
