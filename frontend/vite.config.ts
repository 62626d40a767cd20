import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import { precompressPlugin } from './vite.gzip.ts';
import { firstLoadBudgetPlugin } from './vite.size.ts';
import { trackerPlugin } from './vite.tracker.ts';

// Two entries: the page (index.html) and the API reference (docs.html), so the
// reference's large library never reaches the page's bundle. The tracker plugin
// adds count.js, built on its own as one IIFE (vite.tracker.ts). The budget plugin fails the
// build when the page's first-load JavaScript is over 100 KB gzipped (vite.size.ts); the
// precompress plugin writes the .gz copies prawn serve sends (vite.gzip.ts). The build
// goes to dist/app; frontend/embed.go embeds it into the Go binary.
export default defineConfig({
  plugins: [react(), trackerPlugin(), firstLoadBudgetPlugin('index.html'), precompressPlugin()],
  build: {
    outDir: 'dist/app',
    emptyOutDir: true,
    // Every browser prawn supports knows modulepreload; the polyfill would be one more request.
    modulePreload: { polyfill: false },
    // Large enough for the API reference chunk; the page stays far below it.
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: {
        index: resolve(import.meta.dirname, 'index.html'),
        docs: resolve(import.meta.dirname, 'docs.html'),
      },
    },
  },
  server: {
    // `npm run dev` proxies the API to a running `prawn serve`.
    proxy: {
      '/api': process.env.PRAWN_API ?? 'http://127.0.0.1:8080',
      '/healthz': process.env.PRAWN_API ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'vite.*.test.ts'],
    environment: 'node',
  },
});
