// The container image, without Docker: the layout the Dockerfile's final stage assembles is
// rebuilt in a clean directory from the Dockerfile's own commands (the `deps` stage's RUNs,
// the `build` stage's build, the final stage's COPYs, ENV and ENTRYPOINT), then `shipyard
// migrate`, `worker` and `api` run from it against the testbed and provision an instance, which
// their /metrics then count. Nothing from the repository's node_modules or sources is reachable.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageProcessEnv, startProcess, waitForHttp, type ShipyardProcess } from '../../demo/processes';
import { loadConfig } from '../../domain/config';
import { cacheDir, ensureDir, repoRoot } from '../../testbed/runtime';
import { removeSchedules } from '../../worker/schedules';
import { uniqueSuffix } from '../support/config';
import { instructionsOf, parseCopy, parseDockerfile, parseEnv, shellOf, type Stage, stageNamed } from '../support/dockerfile';
import { apiClient, freePort, onDemandSweeps } from '../support/stack';

const stages = parseDockerfile(join(repoRoot, 'Dockerfile'));
const image = stages.at(-1)!;
const entrypoint = JSON.parse(instructionsOf(image, 'ENTRYPOINT')[0]!) as string[];
const workdirOf = (stage: (typeof stages)[number]) => instructionsOf(stage, 'WORKDIR').at(-1)!;
const imageEnv: Record<string, string> = Object.assign({}, ...instructionsOf(image, 'ENV').map(parseEnv));
/** The PostgreSQL major each Debian release ships (`postgresql-client` there is postgresql-client-<major>). */
const debianPostgresMajor: Record<string, number> = { bookworm: 15, trixie: 17 };

let layout: string;
let depsDir: string;
let env: NodeJS.ProcessEnv;
const processes: ShipyardProcess[] = [];
const logs: Record<string, string[]> = { worker: [], api: [] };
const execFileAsync = promisify(execFile);

/**
 * Runs a RUN line. Never synchronously: a cold `npm ci` takes a minute, and a test process whose
 * event loop is blocked that long misses vitest's own RPC deadline (60 s) and fails the run.
 */
async function sh(command: string, cwd: string): Promise<void> {
  await execFileAsync('sh', ['-c', command], { cwd, env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 64 * 1024 * 1024 });
}

beforeAll(async () => {
  // build stage: its final RUN ran in the repository when the test run began (the global setup runs
  // it, test/support/build.ts), so dist/ is what that stage produces.
  const deps = stageNamed(stages, 'deps');
  depsDir = await depsStage(deps);

  // The final stage's COPYs into a clean directory standing for its WORKDIR.
  layout = mkdtempSync(join(tmpdir(), 'shipyard-image-'));
  const stageDirs: Record<string, { dir: string; workdir: string }> = {
    deps: { dir: depsDir, workdir: workdirOf(deps) },
    build: { dir: repoRoot, workdir: workdirOf(stageNamed(stages, 'build')) },
  };
  for (const copy of instructionsOf(image, 'COPY').map(parseCopy)) {
    for (const source of copy.sources) {
      const from = copy.from ? stageDirs[copy.from]! : { dir: repoRoot, workdir: '' };
      const sourcePath = copy.from ? join(from.dir, relative(from.workdir, source)) : join(repoRoot, source);
      const dest = copy.dest.endsWith('/') && !copy.from ? join(layout, copy.dest, source) : join(layout, copy.dest);
      copyInto(sourcePath, dest);
    }
  }

  const apiPort = await freePort();
  // The layout holds no apt packages: the image's PostgreSQL client (its SHIPYARD_PG_BIN_DIR) is
  // stood in for by the testbed's, from .shipyard/env, whose major the first test compares.
  const { SHIPYARD_PG_BIN_DIR: _imageOnly, ...imageEnvHere } = imageEnv;
  env = {
    ...process.env,
    ...imageEnvHere,
    // No loader from the test runner: the image runs plain Node.
    NODE_OPTIONS: '',
    SHIPYARD_API_HOST: '127.0.0.1',
    SHIPYARD_WORKER_METRICS_HOST: '127.0.0.1',
    SHIPYARD_API_PORT: String(apiPort),
    SHIPYARD_WORKER_METRICS_PORT: String(await freePort()),
    SHIPYARD_TEMPORAL_METRICS_PORT: String(await freePort()),
    ...onDemandSweeps,
    SHIPYARD_TASK_QUEUE: `image-${uniqueSuffix()}`,
    SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '30',
  };
}, 300_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  // As every stack does: the worker's schedules go with it.
  if (env) await removeSchedules(loadConfig(env));
  if (layout) rmSync(layout, { recursive: true, force: true });
});

/**
 * A COPY into the layout: hard links where the filesystem allows (the layout is only read, and
 * copying node_modules file by file cost some 20 s of CPU a run), else a copy.
 */
function copyInto(source: string, dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  if (spawnSync('cp', ['-al', source, dest]).status !== 0) cpSync(source, dest, { recursive: true, force: true });
}

/**
 * The deps stage, as written: copy what it copies, run what it runs. Its result depends only on
 * those files, those commands and Node, so it is kept under the testbed's cache by their hash,
 * as Docker keeps a layer (a fresh `npm ci` costs 15-20 s a run).
 */
async function depsStage(deps: Stage): Promise<string> {
  const copies = instructionsOf(deps, 'COPY').map(parseCopy);
  const runs = instructionsOf(deps, 'RUN').map(shellOf);
  const key = createHash('sha256').update(process.version).update(JSON.stringify({ copies, runs }));
  for (const copy of copies) for (const source of copy.sources) key.update(readFileSync(join(repoRoot, source)));
  const cached = join(cacheDir, 'image-deps', key.digest('hex').slice(0, 16));
  if (existsSync(cached)) return cached;
  const dir = mkdtempSync(join(ensureDir(join(cacheDir, 'image-deps')), 'partial-'));
  for (const copy of copies) {
    for (const source of copy.sources) cpSync(join(repoRoot, source), join(dir, copy.dest, source), { recursive: true });
  }
  for (const run of runs) await sh(run, dir);
  renameSync(dir, cached);
  return cached;
}

describe('the image layout (Dockerfile without Docker)', () => {
  it('is what the Dockerfile says: non-root, a health check, prebuilt bundle, production dependencies only', () => {
    expect(image.from).toMatch(/bookworm-slim$/);
    expect(instructionsOf(image, 'USER').at(-1)).not.toMatch(/^(root|0)$/);
    expect(instructionsOf(image, 'HEALTHCHECK').join()).toContain('/healthz');
    expect(instructionsOf(image, 'LABEL').join()).toContain('org.opencontainers.image.title=');
    // Local runs and benches (demo/processes.ts) start Shipyard's processes as the image does.
    expect(imageEnv).toMatchObject(imageProcessEnv);
    const du = (path: string) => execFileSync('du', ['-sm', path], { encoding: 'utf8' }).split('\t')[0];
    console.log(`image layout: ${du(layout)} MB (node_modules ${du(join(layout, 'node_modules'))} MB, dist ${du(join(layout, 'dist'))} MB)`);
    expect(spawnSync('test', ['-f', join(layout, 'dist/workflow-bundle.js')]).status).toBe(0);
    // The dashboard, which the API serves at /ui.
    expect(spawnSync('test', ['-f', join(layout, 'dist/ui/index.html')]).status).toBe(0);
    for (const devOnly of ['tsx', 'vitest', 'typescript', 'drizzle-kit', 'esbuild']) {
      expect(spawnSync('test', ['-e', join(layout, 'node_modules', devOnly)]).status, devOnly).not.toBe(0);
    }
  });

  it("installs the PostgreSQL client of the base image's Debian for backups: lean, before dropping root, new enough for the tenant server", async () => {
    const runs = instructionsOf(image, 'RUN').map(shellOf);
    const apt = runs.find((r) => r.includes('postgresql-client'));
    expect(apt, 'a RUN in the final stage installs postgresql-client-<major>').toBeDefined();
    const major = Number(/apt-get install -y --no-install-recommends postgresql-client-(\d+)(\s|$)/.exec(apt!)?.[1]);
    expect(apt).toMatch(/^apt-get update && /);
    expect(apt).toMatch(/&& rm -rf \/var\/lib\/apt\/lists\/\*$/);
    // The major the base's Debian ships, so apt finds it there (a new base needs a new major here).
    const codename = /^node:\d+-(\w+)-slim$/.exec(image.from)?.[1];
    expect(major, `the client of ${codename}`).toBe(debianPostgresMajor[codename!]);
    // Shipyard runs that major's binaries, not whatever Debian's wrapper picks.
    expect(imageEnv.SHIPYARD_PG_BIN_DIR).toBe(`/usr/lib/postgresql/${major}/bin`);
    // Installed as root, then the image runs as uid 1000.
    const keywords = image.instructions.map((i) => (i.keyword === 'RUN' && i.args.includes('postgresql-client') ? 'APT' : i.keyword));
    expect(keywords.indexOf('APT')).toBeLessThan(keywords.lastIndexOf('USER'));
    // pg_dump refuses a server of a newer major than its own: the testbed's tenant server, which
    // this file's instance lives on, is one the image can back up.
    const sql = postgres(process.env.TENANT_DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ server_version_num: string }[]>`show server_version_num`;
      expect(Math.floor(Number(row!.server_version_num) / 10_000)).toBeLessThanOrEqual(major);
    } finally {
      await sql.end();
    }
  });

  it('migrates, runs worker and API, provisions and tears down an instance, and counts it on /metrics', async () => {
    const [program, ...args] = entrypoint;
    await execFileAsync(program!, [...args, 'migrate'], { cwd: layout, env });

    const shipyard = { command: entrypoint, cwd: layout };
    const worker = startProcess('worker', env, (line) => logs.worker!.push(line), shipyard);
    processes.push(worker);
    const workerMetrics = `http://127.0.0.1:${env.SHIPYARD_WORKER_METRICS_PORT}/metrics`;
    await waitForHttp(`http://127.0.0.1:${env.SHIPYARD_WORKER_METRICS_PORT}/healthz`, 60_000, worker);
    const api = startProcess('api', env, (line) => logs.api!.push(line), shipyard);
    processes.push(api);
    const baseUrl = `http://127.0.0.1:${env.SHIPYARD_API_PORT}`;
    await waitForHttp(`${baseUrl}/readyz`, 60_000, api);

    // The image's HEALTHCHECK command, run as written.
    const healthcheck = JSON.parse(instructionsOf(image, 'HEALTHCHECK')[0]!.replace(/^.*?CMD\s+/, '')) as string[];
    expect(spawnSync(healthcheck[0]!, healthcheck.slice(1), { cwd: layout, env }).status).toBe(0);

    const started = JSON.parse(logs.worker!.find((l) => l.includes('"worker polling"'))!.replace(/^worker\s*\|\s*/, ''));
    expect(started.workflowBundle).toBe(join(layout, 'dist/workflow-bundle.js'));
    console.log(`worker start-up from the image layout (prebuilt bundle): ${started.startupMs} ms`);

    const client = apiClient(baseUrl, env.SHIPYARD_ADMIN_KEY!);
    const slug = `img-${uniqueSuffix()}`;
    const created = await client.call('POST', '/v1/instances', {
      name: 'Image Layout Ltd',
      slug,
      plan: 'starter',
      ownerEmail: 'ops@image.test',
      version: '1.0.0',
    });
    expect(created.status).toBe(202);
    expect((await client.settled(created.body.operation.id)).status).toBe('succeeded');

    // The counter moves just after the closing write commits, so a scrape may briefly trail the API.
    await expect.poll(async () => (await fetch(workerMetrics)).text()).toContain('shipyard_operations_total{kind="provision",status="succeeded"} 1');
    let text = await (await fetch(workerMetrics)).text();
    expect(text).toContain('shipyard_operation_duration_seconds_count{kind="provision"} 1');
    expect(text).toMatch(/shipyard_step_duration_seconds_count\{kind="provision",step="[^"]+"\} 1/);
    // The Temporal SDK's own worker metrics, merged into the same answer.
    expect(text).toMatch(/^temporal_worker_task_slots_available\{/m);

    const apiText = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(Number(/^shipyard_instances\{status="ready"\} (\d+)$/m.exec(apiText)?.[1])).toBeGreaterThanOrEqual(1);
    expect(apiText).toMatch(/shipyard_http_request_duration_seconds_count\{method="POST",route="\/v1\/instances",status="202"\} 1/);

    const deleted = await client.call('DELETE', `/v1/instances/${slug}`);
    expect(deleted.status).toBe(202);
    expect((await client.settled(deleted.body.operation.id)).status).toBe('succeeded');
    await expect.poll(async () => (await fetch(workerMetrics)).text()).toContain('shipyard_operations_total{kind="teardown",status="succeeded"} 1');

    // Request logs: JSON lines with route, status, duration and the key's name, never the key.
    const requestLog = logs.api!.map((l) => l.replace(/^api\s*\|\s*/, '')).filter((l) => l.includes('"msg":"request"'));
    expect(requestLog.map((l) => JSON.parse(l))).toContainEqual(
      expect.objectContaining({ method: 'POST', route: '/v1/instances', status: 202, apiKey: 'bootstrap-admin', durationMs: expect.any(Number) }),
    );
    expect(logs.api!.join('\n')).not.toContain(env.SHIPYARD_ADMIN_KEY!);
    expect(logs.api!.join('\n')).not.toContain('ops@image.test');

    // SIGTERM: both stop cleanly.
    expect(await api.stop('SIGTERM')).toBe(0);
    expect(await worker.stop('SIGTERM')).toBe(0);
  });
});
