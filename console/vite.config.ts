// The console's build (docs/console.md). `npm run console:build` writes dist/ (or --outDir),
// which CMake embeds in the binary; `npm run console:dev` serves the sources with hot reload
// and proxies /api to a running cairn (CAIRN_URL, default http://127.0.0.1:8080).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import path from 'node:path';

const api = process.env.CAIRN_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: __dirname,
  base: '/console/',
  plugins: [react()],
  resolve: {
    alias: { '@cairn/sdk': path.resolve(__dirname, '../sdk/js/index.js') },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // every asset a file of its own: the CSP allows no data: URIs for scripts or styles
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: api, ws: true, changeOrigin: false },
      '/healthz': api, '/readyz': api, '/metrics': api,
    },
  },
});
