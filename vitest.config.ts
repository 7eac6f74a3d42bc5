import { defineConfig } from 'vitest/config';

// Sibling packages resolve to their TypeScript source through this condition,
// so tests never need a build of another package.
// (`ssr` covers the node-environment projects, which resolve like a server bundle.)
const resolve = { conditions: ['@tidewire/source'] };
const ssr = {
  resolve: { conditions: ['@tidewire/source'], externalConditions: ['@tidewire/source'] },
};

export default defineConfig({
  resolve,
  ssr,
  test: {
    projects: [
      {
        resolve,
        ssr,
        test: {
          name: 'unit',
          environment: 'happy-dom',
          include: ['packages/*/test/**/*.test.{ts,tsx}'],
          exclude: ['**/*.int.test.*', '**/*.browser.test.*', '**/node_modules/**'],
          restoreMocks: true,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'integration',
          environment: 'node',
          include: [
            'packages/*/test/**/*.int.test.{ts,tsx}',
            'playground/test/**/*.int.test.ts',
            'testing/**/*.int.test.ts',
          ],
          testTimeout: 20_000,
          hookTimeout: 20_000,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'browser',
          environment: 'node',
          include: ['playground/test/**/*.browser.test.ts', 'packages/*/test/**/*.browser.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // One Chromium at a time: two cores are not enough for parallel browsers. `test:all`
          // also runs this project after the others, not beside them: the handover timings it
          // checks (a hung leader replaced within 5 s) are the browser's, not a loaded machine's.
          fileParallelism: false,
        },
      },
    ],
  },
});
