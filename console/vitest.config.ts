// Component tests (docs/console.md "Tests"): `npm run console:test`. The Vite config's
// plugins and aliases, with jsdom as the page.
import { defineConfig, mergeConfig } from 'vitest/config';
import viteConfig from './vite.config';

export default mergeConfig(viteConfig, defineConfig({
  test: {
    root: import.meta.dirname,
    environment: 'jsdom',
    globals: true,
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
    restoreMocks: true,
    // the first test of a file also pays for jsdom and the imports; the machine is shared
    testTimeout: 20_000,
  },
}));
