import { defineConfig } from 'vitest/config';

/** `npm run test:browser`: the tests that drive a real headless Chromium (Debian's `chromium` package). */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
  },
});
