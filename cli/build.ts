// `npm run build`: the production build in dist/, which the image copies as is.
//   dist/shipyard.js        the `shipyard` command: our TypeScript bundled into one ESM file,
//                           node_modules left as imports (installed with `npm ci --omit=dev`)
//   dist/workflow-bundle.js the workflows, bundled once here instead of at every worker start
//   dist/migrations/        the catalogue's SQL migrations (db/migrate.ts looks next to its code)
// Bundling (not plain tsc) because the sources use extensionless relative imports, which only
// a bundler or tsx resolves; Node's ESM loader does not.
import { chmod, cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from '../worker/index';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(repoRoot, 'dist');
const started = Date.now();
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await build({
  entryPoints: [join(repoRoot, 'cli/main.ts')],
  outfile: join(dist, 'shipyard.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
await chmod(join(dist, 'shipyard.js'), 0o755);

await cp(join(repoRoot, 'db/migrations'), join(dist, 'migrations'), { recursive: true });

const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger() });
await writeFile(join(dist, 'workflow-bundle.js'), code);

console.log(`build: dist/ ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);

function quietBundlerLogger() {
  const ignore = () => {};
  return { log: ignore, trace: ignore, debug: ignore, info: ignore, warn: console.warn, error: console.error };
}
