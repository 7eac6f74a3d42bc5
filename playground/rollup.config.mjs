// The playground's bundles, built by the root `pnpm build` (rollup.config.mjs imports this):
// the three pages' scripts (IIFE, minified, production React/Vue) and the server module
// that `node playground/server.mjs` runs. Output goes to playground/dist/ (git-ignored).
import { builtinModules } from 'node:module';
import commonjs from '@rollup/plugin-commonjs';
import nodeResolve from '@rollup/plugin-node-resolve';
import replace from '@rollup/plugin-replace';
import terser from '@rollup/plugin-terser';
import esbuild from 'rollup-plugin-esbuild';

const dir = 'playground';
const tsconfig = `${dir}/tsconfig.json`;

/** One page script: everything bundled in (the Vanilla page takes the SDK from window.Tidewire). */
function page(name, input) {
  return {
    input: `${dir}/src/${input}`,
    plugins: [
      replace({
        preventAssignment: true,
        values: {
          'process.env.NODE_ENV': JSON.stringify('production'),
          // Vue's esm-bundler build: no Options API, no devtools, no hydration details.
          __VUE_OPTIONS_API__: 'false',
          __VUE_PROD_DEVTOOLS__: 'false',
          __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
        },
      }),
      nodeResolve({ browser: true, exportConditions: ['@tidewire/source'] }),
      commonjs(),
      esbuild({ target: 'es2020', tsconfig, jsx: 'automatic' }),
    ],
    onwarn(warning, warn) {
      // React's 'use client' directive means nothing in a page bundle.
      if (warning.code === 'MODULE_LEVEL_DIRECTIVE' || warning.code === 'SOURCEMAP_ERROR') return;
      warn(warning);
    },
    output: {
      file: `${dir}/dist/${name}.js`,
      format: 'iife',
      plugins: [terser({ ecma: 2020, compress: { passes: 2 } })],
    },
  };
}

/** The server module: Node, with its dependencies left as imports. */
const server = {
  input: `${dir}/src/server/playground.ts`,
  external: (id) =>
    id.startsWith('node:') || builtinModules.includes(id) || id.startsWith('@tidewire/'),
  plugins: [esbuild({ target: 'node20', tsconfig })],
  output: { file: `${dir}/dist/server.js`, format: 'es' },
};

export default [
  page('vanilla', 'vanilla/main.ts'),
  page('react', 'react/main.tsx'),
  page('vue', 'vue/main.ts'),
  server,
];
