import { defineConfig } from 'vitest/config';

// Sibling packages resolve to their TypeScript source through this condition,
// so tests never need a build of another package.
const resolve = { conditions: ['@tidewire/source'] };

export default defineConfig({
  resolve,
  test: {
    projects: [
      {
        resolve,
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
        test: {
          name: 'integration',
          environment: 'node',
          include: ['packages/*/test/**/*.int.test.{ts,tsx}', 'testing/**/*.int.test.ts'],
          testTimeout: 20_000,
          hookTimeout: 20_000,
        },
      },
      {
        resolve,
        test: {
          name: 'browser',
          environment: 'node',
          include: ['playground/test/**/*.browser.test.ts', 'packages/*/test/**/*.browser.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // One Chromium at a time: two cores are not enough for parallel browsers.
          fileParallelism: false,
        },
      },
    ],
  },
});
