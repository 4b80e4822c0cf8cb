// Two real clusters of the testbed (the shared one and a second started here), each served by a
// cluster worker of its own in a region of its own, beside a central worker and the API: instances
// land where they are asked to, a full or drained region refuses, a cluster whose worker is gone
// holds up its own operations (saying why) and nobody else's, a rollout of one region upgrades its
// instances only, an instance moves from one cluster to the other, and a rollout waving by region
// upgrades one region, then the other. In the exclusive project:
// the second control plane wants the machine's cores while it starts and runs.
//
// One stack, two cluster workers and the second cluster serve every test. What the file made is
// removed directly at its end (namespaces, tenant databases, catalogue rows), not by deletes through
// the API: each of those took a final backup and a purge, most of the file's time.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTenantDatabaseActivities } from '../../activities/tenant-database';
import { connectCatalogue } from '../../db/client';
import { registerCluster } from '../../db/clusters';
import { newId } from '../../db/ids';
import { markInstance } from '../../db/instances';
import { finishOperation, insertInstanceWithOperation } from '../../db/operations';
import { clusters, instances } from '../../db/schema';
import { databaseRoleFor, instanceLabel, managedByLabel, managedByValue, namespaceFor } from '../../domain/instance';
import { startProcess, type ShipyardProcess } from '../../demo/processes';
import { clusterDown, clusterUp } from '../../testbed/index';
import { kubeConfigFrom, kubeconfigPath } from '../../testbed/components/kubernetes';
import { shipyardFromBuild } from '../support/build';
import { runShipyardCli, showRun } from '../support/cli';
import { uniqueSuffix } from '../support/config';
import { freePort, type Operation, type Stack, startStack } from '../support/stack';
import { until } from '../support/until';
import { worldReader } from '../support/world';

const suffix = uniqueSuffix();
// Names of this run only: the catalogue is shared with every other test file and earlier runs.
const us = { region: `us-${suffix}`, cluster: `us-1-${suffix}` };
const eu = { region: `eu-${suffix}`, cluster: `eu-1-${suffix}` };
const testbedCluster = 'cluster-2';

let stack: Stack;
let usKube: KubeConfig;
let euKube: KubeConfig;
const clusterWorkers = new Map<string, ShipyardProcess>();
let euEnv: NodeJS.ProcessEnv;

async function startClusterWorker(env: NodeJS.ProcessEnv, name: string): Promise<void> {
  const worker = startProcess(
    'worker',
    { ...env, SHIPYARD_WORKER_METRICS_PORT: String(await freePort()), SHIPYARD_TEMPORAL_METRICS_PORT: String(await freePort()) },
    process.env.SHIPYARD_TEST_VERBOSE ? undefined : () => {},
    shipyardFromBuild,
  );
  clusterWorkers.set(name, worker);
}

async function clusterStatus(name: string): Promise<string | undefined> {
  const { status, body } = await stack.api.call('GET', `/v1/clusters/${name}`);
  return status === 200 ? (body as { status: string }).status : undefined;
}

async function namespaceIn(kube: KubeConfig, slug: string): Promise<boolean> {
  try {
    await kube.makeApiClient(CoreV1Api).readNamespace({ name: namespaceFor(slug) });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}

function provision(slug: string, where: Record<string, string>, plan = 'starter') {
  made.push(slug);
  return stack.api.call('POST', '/v1/instances', { name: slug, slug, plan, ownerEmail: 'ops@multi.test', version: '1.0.0', ...where });
}

beforeAll(async () => {
  // Three cores and plenty of memory: room for a starter or two, never for a pro.
  const second = await clusterUp(testbedCluster, { nodes: 1, cpu: '3', memory: '64Gi' });
  usKube = kubeConfigFrom(kubeconfigPath);
  euKube = kubeConfigFrom(second.KUBECONFIG);
  // The second cluster is this file's alone: what an earlier run left there must not take its room.
  const core = euKube.makeApiClient(CoreV1Api);
  const leftovers = await core.listNamespace({ labelSelector: `${managedByLabel}=${managedByValue}` });
  for (const ns of leftovers.items) await core.deleteNamespace({ name: ns.metadata!.name! });
  await vi.waitFor(async () => expect((await core.listNamespace({ labelSelector: `${managedByLabel}=${managedByValue}` })).items).toEqual([]), {
    timeout: 120_000,
    interval: 500,
  });
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '60', SHIPYARD_CLUSTER_REPORT_SECONDS: '10' });
  await startClusterWorker(
    { ...stack.env, SHIPYARD_CLUSTER: us.cluster, SHIPYARD_CLUSTER_REGION: us.region, SHIPYARD_CLUSTER_LABELS: 'tier=gold', SHIPYARD_INGRESS_TARGET: `ingress.${us.cluster}.test` },
    us.cluster,
  );
  euEnv = { ...stack.env, KUBECONFIG: second.KUBECONFIG, SHIPYARD_CLUSTER: eu.cluster, SHIPYARD_CLUSTER_REGION: eu.region, SHIPYARD_INGRESS_TARGET: `ingress.${eu.cluster}.test` };
  await startClusterWorker(euEnv, eu.cluster);
  for (const { cluster } of [us, eu]) {
    await vi.waitFor(async () => expect(await clusterStatus(cluster)).toBe('online'), { timeout: 90_000, interval: 500 });
  }
});

/** Instances this file made (or asked for), removed at its end. */
const made: string[] = [];

afterAll(async () => {
  try {
    // Nothing runs on them any more, then they go directly: namespaces in both clusters (not waited
    // for in the shared one), the tenant databases both clusters share, and the catalogue's rows.
    await Promise.all([...clusterWorkers.values()].map((w) => w.stop()));
    await stack?.stop();
    if (stack) await removeDirectly(made);
  } finally {
    // The second cluster's processes go; its state stays under clusters/cluster-2 for the next run.
    await clusterDown(testbedCluster);
  }
});

async function removeDirectly(slugs: string[]): Promise<void> {
  const db = connectCatalogue(stack.config.databaseUrl, { max: 2 });
  const tenantDb = postgres(stack.config.tenantDatabaseUrl, { max: 2, onnotice: () => {} });
  const { dropTenantDatabase } = createTenantDatabaseActivities({ tenantDb });
  const gone = (err: { code?: number }) => {
    if (err.code !== 404) throw err;
  };
  try {
    await Promise.all(
      slugs.map(async (slug) => {
        const [row] = await db.select({ id: instances.id }).from(instances).where(eq(instances.slug, slug));
        if (!row) return;
        for (const kube of [usKube, euKube]) await kube.makeApiClient(CoreV1Api).deleteNamespace({ name: namespaceFor(slug) }).catch(gone);
        await dropTenantDatabase(slug);
        await markInstance(db, row.id, { status: 'deleted' });
      }),
    );
    // The second cluster stops next: its namespaces finish going first, or the next run waits for them.
    const core = euKube.makeApiClient(CoreV1Api);
    await vi.waitFor(async () => expect((await core.listNamespace({ labelSelector: `${managedByLabel}=${managedByValue}` })).items).toEqual([]), {
      timeout: 60_000,
      interval: 250,
    });
  } finally {
    await Promise.all([db.$client.end({ timeout: 5 }), tenantDb.end({ timeout: 5 })]);
  }
}

describe('two clusters in two regions', () => {
  it('lists each cluster with its region, labels, status and capacity from its own nodes', async () => {
    const { status, body } = await stack.api.call('GET', `/v1/clusters/${us.cluster}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ name: us.cluster, region: us.region, labels: { tier: 'gold' }, status: 'online', drained: false, instanceCount: 0 });
    const { body: euView } = await stack.api.call('GET', `/v1/clusters/${eu.cluster}`);
    // The second cluster's one node, as its own worker listed it.
    expect(euView.capacity.allocatable.cpu).toBe(3);
    const { body: list } = await stack.api.call('GET', `/v1/clusters?region=${eu.region}`);
    expect(list.items.map((c: { name: string }) => c.name)).toEqual([eu.cluster]);
    expect((await stack.api.call('GET', '/v1/clusters/no-such-cluster')).status).toBe(404);
    // As an operator lists them: a table row per cluster.
    const cli = await runShipyardCli(['clusters', 'list', '-o', 'table'], { SHIPYARD_API_URL: stack.api.baseUrl, SHIPYARD_API_KEY: stack.config.adminKey });
    expect(cli.code, showRun(cli)).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`^${eu.cluster} +${eu.region} +online +0 +\\d`, 'm'));
  });

  it('places instances in the region asked for; refuses a full region (409) and an unserved one (422)', async () => {
    const inUs = `mc-us-${suffix}`;
    const inEu = `mc-eu-${suffix}`;
    const [a, b] = await Promise.all([provision(inUs, { region: us.region }), provision(inEu, { region: eu.region })]);
    expect(a.status, JSON.stringify(a.body)).toBe(202);
    expect(b.status, JSON.stringify(b.body)).toBe(202);
    expect(a.body.instance.cluster).toBe(us.cluster);
    expect(b.body.instance.cluster).toBe(eu.cluster);
    const [opA, opB] = await Promise.all([stack.api.settled(a.body.operation.id), stack.api.settled(b.body.operation.id)]);
    expect(opA.status, JSON.stringify(opA)).toBe('succeeded');
    expect(opB.status, JSON.stringify(opB)).toBe('succeeded');
    // Each namespace is in its own cluster, and only there.
    expect([await namespaceIn(usKube, inUs), await namespaceIn(euKube, inUs)]).toEqual([true, false]);
    expect([await namespaceIn(euKube, inEu), await namespaceIn(usKube, inEu)]).toEqual([true, false]);
    expect((await stack.api.call('GET', `/v1/instances/${inEu}`)).body).toMatchObject({ status: 'ready', cluster: eu.cluster });
    expect((await stack.api.call('GET', `/v1/clusters/${eu.cluster}`)).body.instanceCount).toBe(1);

    const full = await provision(`mc-full-${suffix}`, { region: eu.region }, 'pro');
    expect(full.status).toBe(409);
    expect(full.headers.get('content-type')).toContain('application/problem+json');
    expect(full.body.detail).toContain(eu.region);
    expect(full.body.type).toBe('urn:shipyard:problem:placement-refused');
    const unserved = await provision(`mc-none-${suffix}`, { region: `mars-${suffix}` });
    expect(unserved.status).toBe(422);
    expect(unserved.body.type).toBe('urn:shipyard:problem:placement-unserved');
    expect(unserved.body.detail).toContain(`mars-${suffix}`);
  });

  it('places nothing in a drained cluster', async () => {
    const drained = await stack.api.call('POST', `/v1/clusters/${eu.cluster}/drain`);
    expect(drained.status).toBe(200);
    expect(drained.body).toMatchObject({ status: 'draining', drained: true });
    try {
      const refused = await provision(`mc-drained-${suffix}`, { region: eu.region });
      expect(refused.status).toBe(409);
      expect(refused.body.detail).toContain(`${eu.cluster} is draining`);
      expect(await namespaceIn(euKube, `mc-drained-${suffix}`)).toBe(false);
    } finally {
      expect((await stack.api.call('POST', `/v1/clusters/${eu.cluster}/undrain`)).body.status).toBe('online');
    }
  });

  it("waits for a cluster whose worker is gone, saying why, while the other region's provision completes", async () => {
    await clusterWorkers.get(eu.cluster)!.stop();
    const waiting = `mc-wait-${suffix}`;
    const other = `mc-other-${suffix}`;
    const [w, o] = await Promise.all([provision(waiting, { region: eu.region }), provision(other, { region: us.region })]);
    expect(w.status, JSON.stringify(w.body)).toBe(202);
    expect(o.status, JSON.stringify(o.body)).toBe(202);
    expect((await stack.api.settled(o.body.operation.id)).status).toBe('succeeded');

    const reason = new RegExp(`^no worker is serving cluster ${eu.cluster} for \\d+ s$`);
    await expect
      .poll(
        async () => {
          const { body } = await stack.api.call<Operation>('GET', `/v1/operations/${w.body.operation.id}`);
          return (body.steps.find((s) => s.status === 'running') as { detail?: string } | undefined)?.detail ?? '';
        },
        { timeout: 60_000, interval: 500 },
      )
      .toMatch(reason);
    expect((await stack.api.call('GET', `/v1/operations/${w.body.operation.id}`)).body.status).toBe('running');

    // The worker back: the waiting provision goes on and completes.
    await startClusterWorker(euEnv, eu.cluster);
    const done = await stack.api.settled(w.body.operation.id, 180_000);
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    expect(await namespaceIn(euKube, waiting)).toBe(true);
  });
  it('upgrades the instances of one region only, each on its own cluster, when a rollout selects the region', async () => {
    const started = await stack.api.call('POST', '/v1/rollouts', {
      version: '1.1.0',
      selector: { regions: [eu.region] },
      strategy: { canary: 0, waves: [100], maxParallel: 5 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = (started.body.rollout as { id: string }).id;
    let rollout: { status: string; counts: { total: number; succeeded: number } } | undefined;
    await vi.waitFor(
      async () => {
        rollout = (await stack.api.call('GET', `/v1/rollouts/${id}`)).body;
        expect(rollout!.status).toBe('succeeded');
      },
      { timeout: 180_000, interval: 1000 },
    );
    // The two instances placed in the region, no more.
    expect(rollout!.counts).toMatchObject({ total: 2, succeeded: 2 });
    for (const slug of [`mc-eu-${suffix}`, `mc-wait-${suffix}`]) {
      expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ version: '1.1.0', cluster: eu.cluster });
    }
    for (const slug of [`mc-us-${suffix}`, `mc-other-${suffix}`]) {
      expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ version: '1.0.0', cluster: us.cluster });
    }
  });
  it('moves an instance to the other cluster: built there, its name switched, nothing left where it was', async () => {
    const slug = `mc-eu-${suffix}`;
    const moveTo = (cluster: string) => stack.api.call('POST', `/v1/instances/${slug}/move`, { cluster });
    const here = await moveTo(eu.cluster);
    expect(here.status).toBe(409);
    expect(here.body).toMatchObject({ type: 'urn:shipyard:problem:invalid-transition', detail: expect.stringContaining(`already in cluster ${eu.cluster}`) });
    const nowhere = await moveTo(`nowhere-${suffix}`);
    expect(nowhere.status).toBe(422);
    expect(nowhere.body.type).toBe('urn:shipyard:problem:placement-unserved');

    // As an operator moves it: the CLI, following the move to its end.
    const cli = await runShipyardCli(['instances', 'move', slug, '--cluster', us.cluster, '--wait', '-o', 'json'], {
      SHIPYARD_API_URL: stack.api.baseUrl,
      SHIPYARD_API_KEY: stack.config.adminKey,
    });
    expect(cli.code, showRun(cli)).toBe(0);
    expect(cli.stderr).toMatch(/^✓ move op_\w+ succeeded in /m);
    const done = JSON.parse(cli.stdout) as Operation;
    expect(done).toMatchObject({ kind: 'move', status: 'succeeded' });
    // Both clusters use the testbed's one tenant Postgres: the database stayed where it was, and the
    // app in the new cluster logs in with a login of its own.
    const steps = done.steps.map((s) => s.name);
    expect(steps).toContain('write secrets in target');
    expect(steps).not.toContain('restore data in target');
    expect(done.steps.every((s) => s.status === 'done'), JSON.stringify(done.steps)).toBe(true);

    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'ready', version: '1.1.0', cluster: us.cluster });
    expect([await namespaceIn(usKube, slug), await namespaceIn(euKube, slug)]).toEqual([true, false]);
    expect((await stack.api.call('GET', `/v1/clusters/${eu.cluster}`)).body.instanceCount).toBe(1);
    const world = worldReader(stack.config);
    try {
      const seen = await world.read(slug);
      expect(seen.deployments).toEqual([expect.objectContaining({ image: `${stack.config.appImage}:1.1.0`, readyReplicas: 1 })]);
      expect(seen.database).toBe(true);
      expect(seen.dnsRecords.find((r) => r.type === 'CNAME')?.values).toEqual([`ingress.${us.cluster}.test`]);
      expect(new URL(await world.appDatabaseUrl(slug)).username).not.toBe(databaseRoleFor(slug));
    } finally {
      await world.close();
    }
    const { body: events } = await stack.api.call('GET', `/v1/instances/${slug}/events`);
    expect(events.items).toContainEqual(expect.objectContaining({ action: 'move', outcome: 'succeeded', message: `moved from cluster ${eu.cluster} to cluster ${us.cluster}` }));
  });

  it('reports a cluster that stopped reporting on the health sweep, and its instances as in an offline cluster rather than unhealthy; health and orphans name the cluster', async () => {
    const db = connectCatalogue(stack.config.databaseUrl, { max: 2 });
    // A cluster whose worker registered it and never reported: offline from the start, no wait.
    const gone = { cluster: `gone-${suffix}`, region: `gone-${suffix}` };
    const stranded = `mc-stranded-${suffix}`;
    const leftover = `mc-leftover-${suffix}`;
    made.push(stranded, leftover);
    /** Catalogue rows as a provision that went through would leave them: placed, its operation closed. */
    const placedRow = async (slug: string, cluster: string, status: 'ready' | 'deleted') => {
      const instanceId = newId('ins');
      const operationId = newId('op');
      await insertInstanceWithOperation(
        db,
        { id: instanceId, slug, name: slug, plan: 'starter', version: '1.0.0', ownerEmail: 'ops@multi.test' },
        { id: operationId, instanceId, kind: 'provision', workflowId: `instance:${slug}`, actor: 'test' },
        async () => ({ cluster }),
      );
      await finishOperation(db, operationId, { status: 'succeeded', steps: [] });
      await markInstance(db, instanceId, { status });
      return instanceId;
    };
    let strandedId: string | undefined;
    try {
      await registerCluster(db, { name: gone.cluster, region: gone.region, labels: {}, taskQueue: `${stack.config.taskQueue}@${gone.cluster}`, ingressTarget: `ingress.${gone.cluster}.test` });
      strandedId = await placedRow(stranded, gone.cluster, 'ready');
      // An orphan: a namespace with Shipyard's marks in the us cluster for an instance deleted from it.
      await placedRow(leftover, us.cluster, 'deleted');
      await usKube.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespaceFor(leftover), labels: { [managedByLabel]: managedByValue, [instanceLabel]: leftover } } } });
      await expect.poll(() => clusterStatus(eu.cluster), { timeout: 30_000, interval: 500 }).toBe('online');

      const started = await stack.api.call('POST', '/v1/health/sweeps');
      expect(started.status).toBe(202);
      const sweep = await until('the sweep to finish', async () => {
        const { body } = await stack.api.call('GET', `/v1/health/sweeps/${started.body.sweep.id}`);
        return body.status !== 'running' ? body : undefined;
      });
      expect(sweep.status, JSON.stringify(sweep)).toBe('succeeded');
      expect(sweep.offlineClusters).toContainEqual({ name: gone.cluster, region: gone.region, reportedAt: null, instanceCount: 1 });
      expect(sweep.offlineClusters.map((c: { name: string }) => c.name)).not.toContain(eu.cluster);

      // Its instance: not looked at, so neither healthy nor unhealthy; the one check says why.
      const { status, body: strandedHealth } = await stack.api.call('GET', `/v1/instances/${stranded}/health`);
      expect(status).toBe(200);
      expect(strandedHealth).toMatchObject({ cluster: gone.cluster, health: 'unknown', checks: [{ name: 'cluster', status: 'fail' }] });
      expect(strandedHealth.checks[0].detail).toContain(`cluster ${gone.cluster} (region ${gone.region}) is offline: it has never reported`);
      // Instances of clusters that report were checked there, by their own cluster's worker: the
      // objects in that cluster, the DNS name pointing at that cluster's ingress.
      for (const [slug, cluster] of [[`mc-wait-${suffix}`, eu.cluster], [`mc-other-${suffix}`, us.cluster]] as const) {
        const { body: report } = await stack.api.call('GET', `/v1/instances/${slug}/health`);
        expect(report, JSON.stringify(report)).toMatchObject({ cluster, health: 'healthy' });
        expect(report.checks).toContainEqual(expect.objectContaining({ name: 'dns record', status: 'pass', detail: expect.stringContaining(`→ ingress.${cluster}.test`) }));
      }
      expect(await namespaceIn(usKube, `mc-wait-${suffix}`)).toBe(false);

      // Checked now, one at a time, the same way.
      const now = await stack.api.call('POST', `/v1/instances/mc-wait-${suffix}/health/check`);
      expect(now.status, JSON.stringify(now.body)).toBe(200);
      expect(now.body).toMatchObject({ cluster: eu.cluster, health: 'healthy' });
      expect((await stack.api.call('POST', `/v1/instances/${stranded}/health/check`)).body).toMatchObject({ cluster: gone.cluster, health: 'unknown' });

      const { body: orphans } = await stack.api.call('GET', '/v1/health/orphans');
      expect(orphans.sweepId).toBe(sweep.id);
      expect(orphans.items).toContainEqual({ kind: 'namespace', name: namespaceFor(leftover), slug: leftover, cluster: us.cluster, removed: false });
      const cli = await runShipyardCli(['health', 'orphans', '-o', 'table'], { SHIPYARD_API_URL: stack.api.baseUrl, SHIPYARD_API_KEY: stack.config.adminKey });
      expect(cli.code, showRun(cli)).toBe(0);
      expect(cli.stdout).toMatch(new RegExp(`^namespace +${namespaceFor(leftover)} +${leftover} +${us.cluster} +no$`, 'm'));
    } finally {
      // Nothing of it exists outside the catalogue; it goes before the cluster row it names.
      if (strandedId) await markInstance(db, strandedId, { status: 'deleted' });
      await db.delete(clusters).where(eq(clusters.name, gone.cluster));
      await db.$client.end({ timeout: 5 });
    }
  });

  it('a rollout waving by region upgrades one region, then the other', async () => {
    const refused = async (body: object, status: number, field: string) => {
      const res = await stack.api.call('POST', '/v1/rollouts', { version: '1.2.0', ...body });
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.errors).toContainEqual(expect.objectContaining({ field }));
      return res.body as { type: string; detail: string };
    };
    expect((await refused({ strategy: { waveBy: 'region' } }, 400, 'strategy.waveBy')).type).toBe('urn:shipyard:problem:validation');
    expect((await refused({ selector: { regions: [eu.region] }, strategy: { waveBy: 'region', regions: [eu.region, us.region] } }, 400, 'strategy.regions')).detail).toContain(
      `region ${us.region} is not in selector.regions`,
    );
    const unserved = await refused({ strategy: { waveBy: 'region', regions: [eu.region, `mars-${suffix}`] } }, 422, 'strategy.regions');
    expect(unserved).toMatchObject({ type: 'urn:shipyard:problem:placement-unserved', detail: expect.stringContaining(`mars-${suffix}`) });

    // As an operator starts it: eu first, then us, pausing in between; it is followed to its end
    // once resumed, the CLI exiting 0 once both regions are done.
    const euSlugs = [`mc-wait-${suffix}`];
    const usSlugs = [`mc-us-${suffix}`, `mc-other-${suffix}`, `mc-eu-${suffix}`];
    const operator = { SHIPYARD_API_URL: stack.api.baseUrl, SHIPYARD_API_KEY: stack.config.adminKey };
    const cliStart = await runShipyardCli(
      ['rollouts', 'start', '--version', '1.2.0', '--wave-by', 'region', '--regions', `${eu.region},${us.region}`, '--pause-between-regions', '--canary', '0', '--waves', '100', '--max-parallel', '5', '-o', 'json'],
      operator,
    );
    expect(cliStart.code, showRun(cliStart)).toBe(0);
    const { id } = JSON.parse(cliStart.stdout) as { id: string };

    // Paused between the regions: eu done, us not begun, none of its instances touched.
    type Wave = { name: string; region: string; size: number; status: string };
    await vi.waitFor(
      async () => {
        const { body } = await stack.api.call('GET', `/v1/rollouts/${id}`);
        expect(body.status).toBe('paused');
        expect(body.waves.map((w: Wave) => [w.name, w.region, w.size, w.status])).toEqual([
          [`${eu.region} wave 1`, eu.region, 1, 'done'],
          [`${us.region} wave 1`, us.region, 3, 'pending'],
        ]);
      },
      { timeout: 60_000, interval: 250 },
    );
    for (const slug of usSlugs) expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body.version).not.toBe('1.2.0');

    const resumed = await runShipyardCli(['rollouts', 'resume', id], operator);
    expect(resumed.code, showRun(resumed)).toBe(0);
    const cli = await runShipyardCli(['rollouts', 'watch', id], operator);
    expect(cli.code, showRun(cli)).toBe(0);
    // Its plain progress names each wave by its region.
    expect(cli.stderr + cli.stdout).toMatch(new RegExp(`^${eu.region} wave 1 .* 1/1, 1 ok`, 'm'));
    expect(cli.stderr + cli.stdout).toMatch(new RegExp(`^${us.region} wave 1 .* 3/3, 3 ok`, 'm'));

    const { body: rollout } = await stack.api.call('GET', `/v1/rollouts/${id}`);
    expect(rollout).toMatchObject({
      status: 'succeeded',
      counts: { total: 4, succeeded: 4 },
      strategy: { waveBy: 'region', regions: [eu.region, us.region], pauseBetweenRegions: true },
    });
    expect(rollout.waves.map((w: Wave) => [w.name, w.region, w.size, w.status])).toEqual([
      [`${eu.region} wave 1`, eu.region, 1, 'done'],
      [`${us.region} wave 1`, us.region, 3, 'done'],
    ]);

    // Each instance's own upgrade, as its operations list shows it: every eu one ended before any us one started.
    const upgradeOf = async (slug: string) => {
      const { body } = await stack.api.call<{ items: Operation[] }>('GET', `/v1/instances/${slug}/operations`);
      const upgrade = body.items.find((o) => o.kind === 'upgrade' && o.actor === `rollout:${id}`);
      expect(upgrade, `${slug}: ${JSON.stringify(body.items)}`).toMatchObject({ status: 'succeeded' });
      return { startedAt: Date.parse(upgrade!.startedAt), endedAt: Date.parse(upgrade!.endedAt!) };
    };
    const euUpgrades = await Promise.all(euSlugs.map(upgradeOf));
    const usUpgrades = await Promise.all(usSlugs.map(upgradeOf));
    expect(Math.max(...euUpgrades.map((u) => u.endedAt))).toBeLessThanOrEqual(Math.min(...usUpgrades.map((u) => u.startedAt)));
    for (const slug of [...euSlugs, ...usSlugs]) {
      expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ version: '1.2.0', status: 'ready' });
    }
  });
});
