// `npm run bench:api [-- --duration S] [--connections C] [--from-source]`: the API's reads under
// load, measured by autocannon on the same machine as the server. Two runs, each at a fixed
// request rate over C connections (default 20):
//   - one instance, `GET /v1/instances/{id}`, at 2,000 requests/s;
//   - a page of 50 instances, `GET /v1/instances?limit=50`, at 1,000 requests/s;
// and, for scale, `/healthz` as fast as it answers. Requests carry a viewer API key made for the
// run (not the configured admin key, which the server recognises without the catalogue), so each
// one pays what a customer's read pays. Prints autocannon's own table for each run, then one line
// each: the latency percentiles, requests/s achieved, errors and non-2xx answers, and the API
// process's CPU per 1,000 requests. Runs the production build (dist/, built first) unless
// --from-source; --profile DIR writes CPU profiles of both processes. The instance it reads is provisioned at the start and torn down at the end.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../testbed/runtime';
import { cpuAccount, startBenchShipyard } from './support';

interface Histogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  latency: Histogram;
  requests: Histogram & { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = ((options: Record<string, unknown>) => Promise<AutocannonResult>) & {
  printResult: (result: AutocannonResult) => string;
};
// autocannon ships no types; its options and result fields are the documented ones used here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    connections: { type: 'string', default: '20' },
    'from-source': { type: 'boolean', default: false },
    // A directory for V8 CPU profiles of the API and the worker (node --cpu-prof), read with bench/cpu-profile.ts.
    profile: { type: 'string' },
  },
});
const duration = Number(args.duration);
const connections = Number(args.connections);
if (!(duration > 0) || !Number.isInteger(connections) || connections < 1) throw new Error('--duration and --connections must be positive');

const built = join(repoRoot, 'dist', 'shipyard.js');
if (!args['from-source']) {
  console.log('building dist/ (npm run build) so the bench runs what the image runs');
  execFileSync(process.execPath, ['--import', 'tsx', 'cli/build.ts'], { cwd: repoRoot, stdio: 'inherit' });
  if (!existsSync(built)) throw new Error(`the build did not write ${built}`);
}
if (args.profile && args['from-source']) throw new Error('--profile profiles the production build; drop --from-source');
const profiling = args.profile ? ['--cpu-prof', '--cpu-prof-interval=2000', `--cpu-prof-dir=${args.profile}`] : [];
const shipyard = await startBenchShipyard({}, args['from-source'] ? undefined : { command: [process.execPath, ...profiling, built], cwd: repoRoot });
const { call, settle, baseUrl } = shipyard;

const run = Date.now().toString(36);
const slug = `bench-api-${run}`;
let keyId: string | undefined;
let provisioned = false;

/** One autocannon run against `path`; prints its table and a summary line. */
async function load(name: string, path: string, key: string | undefined, rate?: number): Promise<void> {
  const cpu = cpuAccount(shipyard);
  const result = await autocannon({
    url: `${baseUrl}${path}`,
    connections,
    duration,
    ...(rate ? { overallRate: rate } : {}),
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  const apiSeconds = cpu.since().find((part) => part.name === 'api')?.seconds ?? 0;
  console.log(`\n${name}: ${path}${rate ? ` at ${rate} req/s` : ' as fast as it answers'}, ${connections} connections, ${duration} s`);
  console.log(autocannon.printResult(result));
  const { latency, requests } = result;
  console.log(
    `${name}: p50 ${latency.p50} ms, p90 ${latency.p90} ms, p99 ${latency.p99} ms, max ${latency.max} ms; ` +
      `${requests.average.toFixed(0)} req/s (${requests.total} requests); errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}; ` +
      `API CPU ${((apiSeconds * 1_000_000) / Math.max(1, requests.total)).toFixed(0)} ms per 1,000 requests`,
  );
}

try {
  const created = await call('POST', '/v1/api-keys', { name: `bench-api-${run}`, role: 'viewer' });
  if (created.status !== 201) throw new Error(`creating the viewer key answered ${created.status}: ${JSON.stringify(created.body)}`);
  keyId = created.body.apiKey.id as string;
  const viewerKey = created.body.key as string;

  const res = await call('POST', '/v1/instances', { name: `Bench ${slug}`, slug, plan: 'starter', ownerEmail: 'bench@shipyard.test', version: '1.0.0' });
  if (res.status !== 202) throw new Error(`create ${slug} answered ${res.status}: ${JSON.stringify(res.body)}`);
  provisioned = true;
  const status = await settle(res.body.operation.id);
  if (status !== 'succeeded') throw new Error(`provisioning ${slug} ended ${status}`);
  const instanceId = res.body.instance.id as string;

  // A short warm-up: the first requests compile the server's hot paths.
  await autocannon({ url: `${baseUrl}/v1/instances/${instanceId}`, connections, duration: 3, headers: { authorization: `Bearer ${viewerKey}` } });
  await load('healthz', '/healthz', undefined);
  await load('instance', `/v1/instances/${instanceId}`, viewerKey, 2000);
  await load('page of 50', '/v1/instances?limit=50', viewerKey, 1000);
} finally {
  if (provisioned) {
    const res = await call('DELETE', `/v1/instances/${slug}?grace=0`);
    if (res.status === 202) await settle(res.body.operation.id);
  }
  if (keyId) await call('DELETE', `/v1/api-keys/${keyId}`);
  await shipyard.stop();
}
