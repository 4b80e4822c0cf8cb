// `npm run build`: the production build in dist/, which the image copies as is.
//   dist/shipyard.js        the `shipyard` command: our TypeScript bundled as ESM, with the parts
//   dist/*-<hash>.js        only some commands load (API server, worker) split into chunks;
//                           the libraries bundled in too, but for those that read files beside
//                           their code or load native parts (left as imports, installed with
//                           `npm ci --omit=dev`)
//   dist/workflow-bundle.js the workflows, bundled once here instead of at every worker start
//   dist/workflow-bundle-traced.js  the same with the OpenTelemetry workflow interceptors, for a
//                           worker with tracing on
//   dist/migrations/        the catalogue's SQL migrations (db/migrate.ts looks next to its code)
//   dist/failure-converter.cjs  Shipyard's failure converter, which the SDK require()s by path
//                           (temporal/data-converter.ts looks next to its code)
//   dist/ui/                the dashboard (dashboard/, built by Vite), which the API serves at /ui
//                           (api/routes/ui.ts looks next to its code)
// Bundling (not plain tsc) because the sources use extensionless relative imports, which only
// a bundler or tsx resolves; Node's ESM loader does not.
import { readFileSync, realpathSync } from 'node:fs';
import { chmod, cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { build, type Plugin } from 'esbuild';
import { build as viteBuild } from 'vite';
import { bundleWorkflowCode } from '@temporalio/worker';
import { failureConverterPath } from '../temporal/data-converter';
import { workflowsPath } from '../worker/index';
import { workflowTracingModule } from '../telemetry/temporal';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(repoRoot, 'dist');
const started = Date.now();
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await build({
  entryPoints: { shipyard: join(repoRoot, 'cli/main.ts') },
  outdir: dist,
  // The commands import their parts lazily (cli/main.ts); split chunks keep those imports lazy.
  // Chunks sit beside shipyard.js: code that finds files next to itself (migrations, the failure
  // converter) may land in any of them.
  splitting: true,
  chunkNames: '[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Libraries bundled in: a worker resolved, read and compiled some thousand files of them at
  // every start (the Kubernetes client alone is hundreds), which cost it about 0.6 s of CPU and
  // 12 MiB. Left as imports: the Temporal SDK (its native core, and files it loads by path), and
  // libraries that read files beside their code (swagger's UI and package.json, pino's transports),
  // and OpenTelemetry: one copy of its API for our code and Temporal's interceptors, its SDK loaded
  // only when tracing is on (a dynamic import of a bundled CommonJS module would see no named
  // exports), and the HTTP instrumentation patching modules as Node loads them.
  external: [
    '@temporalio/*',
    '@opentelemetry/*',
    '@fastify/swagger',
    '@fastify/swagger-ui',
    '@fastify/static',
    'pino',
    'pino-pretty',
    'thread-stream',
  ],
  sourcemap: true,
  // CommonJS libraries bundled into ESM still call require() for Node's own modules.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __shipyardCreateRequire } from 'node:module';\nconst require = __shipyardCreateRequire(import.meta.url);" },
  plugins: [deepImportsAsFiles()],
  logLevel: 'warning',
});
await chmod(join(dist, 'shipyard.js'), 0o755);

await cp(join(repoRoot, 'db/migrations'), join(dist, 'migrations'), { recursive: true });
await cp(failureConverterPath, join(dist, 'failure-converter.cjs'));

// The failure converter goes into the sandbox too, as it does when the worker bundles at start-up.
const { code } = await bundleWorkflowCode({ workflowsPath, failureConverterPath, logger: quietBundlerLogger() });
await writeFile(join(dist, 'workflow-bundle.js'), code);
// With Temporal's OpenTelemetry workflow interceptors in, for a worker started with tracing on
// (telemetry/tracing.ts): a bundle of its own, so a worker without tracing runs none of their code.
const traced = await bundleWorkflowCode({
  workflowsPath,
  failureConverterPath,
  workflowInterceptorModules: [workflowTracingModule()],
  logger: quietBundlerLogger(),
});
await writeFile(join(dist, 'workflow-bundle-traced.js'), traced.code);

// The dashboard: static files, bundled whole (nothing from elsewhere at run time).
await viteBuild({ configFile: join(repoRoot, 'dashboard/vite.config.ts'), logLevel: 'warn' });

console.log(`build: dist/ ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);

/**
 * A deep import into a package without an `exports` map (`@temporalio/common/lib/internal-non-workflow`)
 * works under tsx and CommonJS resolution but not under Node's ESM loader, which wants the file
 * itself. Such imports stay external, written as the file they resolve to today.
 */
function deepImportsAsFiles(): Plugin {
  const require = createRequire(join(repoRoot, 'package.json'));
  return {
    name: 'deep-imports-as-files',
    setup(b) {
      b.onResolve({ filter: /^(@[^/]+\/)?[^./@][^/]*\/.+/ }, (args) => {
        // A bundled library's own deep imports are bundled with it.
        if (args.importer.includes('/node_modules/')) return undefined;
        // Node's own modules (`node:dns/promises`) are no package.
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        const [, scope = '', rest] = /^(@[^/]+\/)?(.*)$/.exec(args.path)!;
        const name = scope + rest!.split('/')[0];
        // Our own imports only, so the top-level node_modules is where the package is.
        const packageDir = join(repoRoot, 'node_modules', name);
        const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { exports?: unknown };
        if (manifest.exports) return { path: args.path, external: true };
        const file = require.resolve(args.path);
        // resolve() answers real paths: node_modules may be a symlink (a worktree sharing one).
        return { path: `${name}/${relative(realpathSync(packageDir), file)}`, external: true };
      });
    },
  };
}

function quietBundlerLogger() {
  const ignore = () => {};
  return { log: ignore, trace: ignore, debug: ignore, info: ignore, warn: console.warn, error: console.error };
}
