// The dashboard's build: `npm run build` (cli/build.ts) runs it into dist/ui/, which the API
// serves at /ui. Everything bundled into hashed files; nothing is loaded from elsewhere.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/ui/',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // Served by the API of the same build: no older browsers to transpile for.
    target: 'es2022',
    sourcemap: true,
  },
  // `npx vite dashboard` for work on the page: calls to /v1 go to a Shipyard on its default port.
  server: { proxy: { '/v1': 'http://127.0.0.1:8080' } },
});
