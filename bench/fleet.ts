// `npm run bench:fleet [-- --instances N] [--max-parallel M] [--from-source]`: the fleet path at
// scale on the local testbed. Provisions N instances at once (default 200), rolls all of them to a
// new version in one rollout (at most M upgrades in flight, default 50), then tears them all down
// at once. For each phase it prints the total time, instances per minute, p50/p95 of each
// instance's own operation (catalogue start → end), when the first instance was done, failures,
// the peak resident memory of the worker, the API and both together, and the CPU seconds each of
// Shipyard's processes and each part of the testbed used in the phase; at the end, whatever
// the bench's instances left in Kubernetes, Route 53 or Postgres. Runs the production build
// (dist/, made first) unless --from-source; one instance is provisioned alone first, the
// baseline for "the first of N ready in about the time of one alone".
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { ListResourceRecordSetsCommand, Route53Client, type RRType } from '@aws-sdk/client-route-53';
import { and, eq, gte, inArray } from 'drizzle-orm';
import postgres from 'postgres';
import { connectCatalogue } from '../db/client';
import { instances, operations } from '../db/schema';
import { databaseNameFor, instanceLabel, managedByLabel, managedByValue } from '../domain/instance';
import { loadKubeConfig } from '../activities/kube-config';
import { repoRoot } from '../testbed/runtime';
import { connectTemporalClient } from '../temporal/data-converter';
import { rolloutWorkflowIdFor } from '../domain/rollouts';
import { cpuAccount, rssMiB, startBenchShipyard } from './support';
import { describeWork, temporalWork } from './temporal-work';

const { values: args } = parseArgs({
  options: {
    instances: { type: 'string', default: '200' },
    'max-parallel': { type: 'string', default: '50' },
    'from-source': { type: 'boolean', default: false },
    // A directory for V8 CPU profiles of the worker and the API (node --cpu-prof), one file each.
    profile: { type: 'string' },
  },
});
const count = Number(args.instances);
const maxParallel = Number(args['max-parallel']);
if (!Number.isInteger(count) || count < 1) throw new Error(`--instances must be a positive whole number, not "${args.instances}"`);
if (!Number.isInteger(maxParallel) || maxParallel < 1) throw new Error(`--max-parallel must be a positive whole number, not "${args['max-parallel']}"`);

const built = join(repoRoot, 'dist', 'shipyard.js');
if (!args['from-source']) {
  console.log('building dist/ (npm run build) so the bench runs what the image runs');
  execFileSync(process.execPath, ['--import', 'tsx', 'cli/build.ts'], { cwd: repoRoot, stdio: 'inherit' });
  if (!existsSync(built)) throw new Error(`the build did not write ${built}`);
}
// Node takes --cpu-prof on its command line only (not in NODE_OPTIONS); written when each process exits.
const profiling = args.profile ? ['--cpu-prof', '--cpu-prof-interval=2000', `--cpu-prof-dir=${args.profile}`] : [];
if (args.profile && args['from-source']) throw new Error('--profile profiles the production build; drop --from-source');
const shipyard = await startBenchShipyard(
  // Interval schedules fire on the wall clock's multiples, so a sweep of the whole fleet landed in
  // a random phase of some runs and not others (+100 MiB in the worker's peak, measured): each
  // phase is measured without one, and `npm run bench:health-sweep` measures the sweep alone.
  {
    SHIPYARD_HEALTH_INTERVAL_SECONDS: '86400',
  },
  args['from-source'] ? undefined : { command: [process.execPath, ...profiling, built], cwd: repoRoot },
);
const { call, config } = shipyard;
const db = connectCatalogue(config.databaseUrl, { max: 2 });
const temporal = await connectTemporalClient(config);

/** Peak resident memory over a phase, sampled every 250 ms. */
function memorySampler() {
  const peak = { worker: 0, api: 0, both: 0 };
  const sample = () => {
    const worker = rssMiB(shipyard.worker.child.pid);
    const api = rssMiB(shipyard.api.child.pid);
    peak.worker = Math.max(peak.worker, worker);
    peak.api = Math.max(peak.api, api);
    peak.both = Math.max(peak.both, worker + api);
  };
  sample();
  const timer = setInterval(sample, 250);
  return () => {
    clearInterval(timer);
    sample();
    return peak;
  };
}

/** Waits until none of `operationIds` is running, reading the catalogue (not the API, which is under test). */
async function settled(operationIds: string[]) {
  for (;;) {
    const rows = await db
      .select({
        id: operations.id,
        status: operations.status,
        startedAt: operations.startedAt,
        endedAt: operations.endedAt,
        workflowId: operations.workflowId,
        runId: operations.runId,
      })
      .from(operations)
      .where(inArray(operations.id, operationIds));
    if (rows.length === operationIds.length && rows.every((r) => r.status !== 'running')) return rows;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

interface PhaseResult {
  phase: string;
  line: string;
}
const results: PhaseResult[] = [];

/** Runs one phase, timing each instance's operation from the catalogue's own timestamps. */
async function phase(name: string, start: () => Promise<string[]>, helperRuns: () => { workflowId: string; runId?: string }[] = () => []): Promise<void> {
  const stopSampling = memorySampler();
  const cpu = cpuAccount(shipyard);
  const began = Date.now();
  const operationIds = await start();
  const rows = await settled(operationIds);
  const total = Date.now() - began;
  const peak = stopSampling();
  const durations = rows.map((r) => r.endedAt!.getTime() - r.startedAt.getTime()).sort((a, b) => a - b);
  const firstDone = Math.min(...rows.map((r) => r.endedAt!.getTime())) - began;
  const failures = rows.filter((r) => r.status !== 'succeeded');
  const line =
    `${name.padEnd(9)} ${String(rows.length).padStart(4)} instances in ${seconds(total).padStart(7)} ` +
    `(${((rows.length / total) * 60_000).toFixed(0)}/min, ${((rows.length / total) * 1000).toFixed(2)}/s); ` +
    `per instance p50 ${seconds(quantile(durations, 0.5))}, p95 ${seconds(quantile(durations, 0.95))}; first done after ${seconds(firstDone)}; ` +
    `failures ${failures.length}${failures.length ? ` (${[...new Set(failures.map((f) => f.status))].join(', ')})` : ''}; ` +
    `peak RSS worker ${peak.worker.toFixed(0)} MiB, api ${peak.api.toFixed(0)} MiB, together ${peak.both.toFixed(0)} MiB`;
  const used = cpu.since();
  const busy = used.reduce((sum, part) => sum + part.seconds, 0);
  const cpuLine =
    `${''.padEnd(9)} CPU ${busy.toFixed(0)} s of ${((availableParallelism() * total) / 1000).toFixed(0)} core-seconds: ` +
    used.map((part) => `${part.name} ${part.seconds.toFixed(1)}`).join(', ');
  // Shipyard's own share per operation: what Temporal, the testbed and the machine do not decide.
  const own = used.filter((part) => part.name === 'worker' || part.name === 'api');
  const ownLine =
    `${''.padEnd(9)} Shipyard CPU per operation: ${own.map((part) => `${part.name} ${((part.seconds * 1000) / rows.length).toFixed(1)} ms`).join(', ')}, ` +
    `together ${((own.reduce((sum, part) => sum + part.seconds, 0) * 1000) / rows.length).toFixed(1)} ms`;
  // Read after the phase's CPU account is closed: fetching histories is the bench's own work.
  const work = await temporalWork(temporal.client, config.temporalNamespace, rows);
  const helpers = helperRuns();
  const helperWork = helpers.length ? await temporalWork(temporal.client, config.temporalNamespace, helpers) : undefined;
  const workLine =
    `${''.padEnd(9)} ${describeWork(work)}` +
    (helperWork ? `; plus ${helperWork.runs} coordinating run(s): ${helperWork.events} events, ${helperWork.actions} actions in all (${(helperWork.actions / rows.length).toFixed(2)} per operation)` : '');
  console.log(`${line}\n${cpuLine}\n${ownLine}\n${workLine}`);
  results.push({ phase: name, line: `${line}\n  ${cpuLine}\n  ${ownLine}\n  ${workLine}` });
}

const run = Date.now().toString(36);
const slugs = Array.from({ length: count }, (_, i) => `fleet-${run}-${i}`);
const created = new Set<string>();

async function create(slug: string): Promise<string> {
  const res = await call('POST', '/v1/instances', { name: `Fleet ${slug}`, slug, plan: 'starter', ownerEmail: 'bench@shipyard.test', version: '1.0.0' });
  if (res.status !== 202) throw new Error(`create ${slug} answered ${res.status}: ${JSON.stringify(res.body)}`);
  created.add(slug);
  return res.body.operation.id;
}

async function tearDown(targets: string[]): Promise<string[]> {
  const ids = await Promise.all(
    targets.map(async (slug) => {
      // Purged at once (admin, grace 0): the default grace period would hold every teardown for days.
      const res = await call('DELETE', `/v1/instances/${slug}?grace=0`);
      if (res.status !== 202) throw new Error(`delete ${slug} answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.operation.id as string;
    }),
  );
  return ids;
}

/** What the bench's instances left behind, read from each part with one listing. */
async function leftovers(of: string[]): Promise<string[]> {
  const wanted = new Set(of);
  const found: string[] = [];
  const kube = loadKubeConfig(config.kubeconfig);
  const namespaces = await kube.makeApiClient(CoreV1Api).listNamespace({ labelSelector: `${managedByLabel}=${managedByValue}` });
  for (const ns of namespaces.items) if (wanted.has(ns.metadata?.labels?.[instanceLabel] ?? '')) found.push(`namespace ${ns.metadata!.name}`);

  const route53 = new Route53Client({ region: config.awsRegion, endpoint: config.route53Endpoint });
  let next: { StartRecordName?: string; StartRecordType?: RRType } = {};
  for (;;) {
    const page = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: config.hostedZoneId, ...next }));
    for (const record of page.ResourceRecordSets ?? []) {
      if (of.some((slug) => record.Name?.includes(`${slug}.`))) found.push(`DNS ${record.Type} ${record.Name}`);
    }
    if (!page.IsTruncated) break;
    next = { StartRecordName: page.NextRecordName, StartRecordType: page.NextRecordType };
  }

  const tenant = postgres(config.tenantDatabaseUrl, { max: 1, onnotice: () => {} });
  const names = of.map(databaseNameFor);
  for (const { datname } of await tenant<{ datname: string }[]>`select datname from pg_database where datname in ${tenant(names)}`) found.push(`database ${datname}`);
  for (const { rolname } of await tenant<{ rolname: string }[]>`select rolname from pg_roles where rolname in ${tenant(names)}`) found.push(`role ${rolname}`);
  await tenant.end();
  return found;
}

try {
  console.log(`fleet bench: ${count} instances, rollout maxParallel ${maxParallel}, ${args['from-source'] ? 'from source (tsx)' : 'production build (dist/)'}`);
  const aloneSlug = `fleet-${run}-alone`;
  const aloneStarted = Date.now();
  const [alone] = await settled([await create(aloneSlug)]);
  console.log(`one alone: provisioned in ${seconds(Date.now() - aloneStarted)} (${alone!.status})`);
  await settled(await tearDown([aloneSlug]));
  created.delete(aloneSlug);

  await phase('provision', () => Promise.all(slugs.map(create)));

  const version = `1.1.${Number.parseInt(run, 36) % 100000}`;
  let rolloutId: string | undefined;
  await phase('rollout', async () => {
    const rolloutStarted = new Date();
    const res = await call('POST', '/v1/rollouts', {
      version,
      selector: { slugs },
      strategy: { canary: 1, waves: [10, 50, 100], maxParallel, failureBudget: count },
    });
    if (res.status !== 202) throw new Error(`rollout answered ${res.status}: ${JSON.stringify(res.body)}`);
    let rollout = res.body.rollout;
    rolloutId = rollout.id;
    while (!['succeeded', 'halted', 'aborted', 'failed'].includes(rollout.status)) {
      await new Promise((r) => setTimeout(r, 1000));
      rollout = (await call('GET', `/v1/rollouts/${rollout.id}`)).body;
    }
    if (rollout.status !== 'succeeded') console.log(`rollout ended ${rollout.status}: ${JSON.stringify(rollout.counts)}`);
    const upgrades = await db
      .select({ id: operations.id })
      .from(operations)
      .innerJoin(instances, eq(instances.id, operations.instanceId))
      .where(and(inArray(instances.slug, slugs), eq(operations.kind, 'upgrade'), gte(operations.startedAt, rolloutStarted)));
    return upgrades.map((u) => u.id);
  }, () => (rolloutId ? [{ workflowId: rolloutWorkflowIdFor(rolloutId) }] : []));

  await phase('teardown', async () => {
    const ids = await tearDown(slugs);
    for (const slug of slugs) created.delete(slug);
    return ids;
  });

  const left = await leftovers([...slugs, aloneSlug]);
  console.log(`leftovers: ${left.length}${left.length ? `\n  ${left.slice(0, 20).join('\n  ')}` : ''}`);
  console.log(`\nsummary (N = ${count}):\n${results.map((r) => `  ${r.line}`).join('\n')}`);
  if (left.length > 0) process.exitCode = 1;
} finally {
  // Whatever a failed phase left: torn down before the processes stop.
  if (created.size > 0) {
    console.log(`cleaning up ${created.size} instances`);
    await settled(await tearDown([...created]).catch(() => [])).catch(() => undefined);
  }
  await db.$client.end();
  await temporal.connection.close();
  await shipyard.stop();
}
