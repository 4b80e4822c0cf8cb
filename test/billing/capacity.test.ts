// The capacity check against the real cluster: the quotas Shipyard's namespaces hold plus the
// requested plan must fit the nodes' allocatable × SHIPYARD_OVERCOMMIT_RATIO. A provision that
// does not fit is refused before anything is created. The API admits against the picture the
// workers keep in the catalogue: here the real refresh lists the real cluster for the harness's
// task queue, and the real namespace activities correct it (the API server beside a worker
// process: test/e2e/failures.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { build } from '../../api/app';
import { createCapacityActivities, readCapacity, refreshClusterPicture } from '../../activities/capacity';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { admissionView, clusterPicture, replaceClusterPicture } from '../../db/capacity';
import { findInstance } from '../../db/instances';
import { livePlans } from '../../db/plans';
import { clusterCapacity, instances, namespaceQuotas, plans } from '../../db/schema';
import { capacityView, type ClusterListing } from '../../domain/capacity';
import { namespaceFor } from '../../domain/instance';
import { workflowIdFor } from '../../domain/operations';
import { testPlan } from '../support/catalogue-rows';
import { uniqueSuffix } from '../support/config';
import { inActivity } from '../activities/activity-context';
import { failure, testbedDeps, testPlan as namespacePlan, uniqueSlug } from '../activities/testbed-deps';
import { startHarness, type Harness } from '../api/harness';

const { config, kube, tenantDb } = testbedDeps();
let h: Harness;

/** The harness's task queue's picture, as a worker's start or reconcile pass leaves it. */
const refresh = () => refreshClusterPicture(kube, h.db, h.config.taskQueue);

/** The quota rows of `taskQueue`, in a stable order and without their times. */
const quotaRows = async (taskQueue: string) =>
  (await h.db.select().from(namespaceQuotas).where(eq(namespaceQuotas.taskQueue, taskQueue)))
    .map(({ namespace, cpu, memoryBytes }) => ({ namespace, cpu, memoryBytes }))
    .sort((a, b) => a.namespace.localeCompare(b.namespace));

const sortedQuotas = (listing: ClusterListing) => [...listing.quotas].sort((a, b) => a.namespace.localeCompare(b.namespace));

/** `POST /v1/instances` to `app` as an operator. */
const provisionThrough = (app: Awaited<ReturnType<typeof build>>, slug: string, plan: string, name: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/instances',
    headers: { authorization: `Bearer ${h.keys.operator}` },
    payload: { name, slug, plan, ownerEmail: 'owner@example.com' },
  });

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  await tenantDb.end();
});

const starter = { name: 'starter', cpu: '1', memory: '2Gi' };

describe('capacity', () => {
  it('reads the nodes and the tenant quotas, and lets a plan that fits through', async () => {
    const view = await readCapacity(kube, h.db);
    expect(view.allocatable.cpu).toBeGreaterThan(0);
    expect(view.allocatable.memoryBytes).toBeGreaterThan(0);
    await createCapacityActivities({ kube, db: h.db, config: { overcommitRatio: 1 } }).checkCapacity('fits', starter);
  });

  it('refuses a plan that does not fit, saying by how much (non-retryable InsufficientCapacity)', async () => {
    const tiny = createCapacityActivities({ kube, db: h.db, config: { overcommitRatio: 0.000001 } });
    const message = await failure(tiny.checkCapacity('too-big', starter), 'InsufficientCapacity');
    expect(message).toMatch(/insufficient capacity for plan starter: quotas would request cpu .* allocatable \(overcommit ratio 0.000001\)/);
  });

  it('keeps the picture the refresh lists, and refreshing again leaves just the same rows', async () => {
    // The namespaces other test files create meanwhile may differ between two listings: each
    // refresh's rows are compared with what that refresh listed.
    const first = await refresh();
    const firstRows = await quotaRows(h.config.taskQueue);
    expect(firstRows).toEqual(sortedQuotas(first));
    expect(first.allocatable.cpu).toBeGreaterThan(0);
    const second = await refresh();
    expect(await quotaRows(h.config.taskQueue)).toEqual(sortedQuotas(second));
    expect(second.allocatable).toEqual(first.allocatable);
    const capacityRows = await h.db.select().from(clusterCapacity).where(eq(clusterCapacity.taskQueue, h.config.taskQueue));
    expect(capacityRows).toHaveLength(1);
    expect(capacityRows[0]).toMatchObject({ allocatableCpu: second.allocatable.cpu, allocatableMemoryBytes: second.allocatable.memoryBytes });
    expect(await clusterPicture(h.db, h.config.taskQueue)).toEqual({ allocatable: second.allocatable, quotas: expect.arrayContaining(second.quotas) });
  });

  it('drops the quota of a namespace a listing no longer holds, unless it was recorded after the listing began', async () => {
    const taskQueue = `capacity-test-${uniqueSuffix()}`;
    const listedAt = new Date();
    const stale = { namespace: 'tenant-gone', cpu: 1, memoryBytes: 1 };
    const placed = { namespace: 'tenant-just-placed', cpu: 2, memoryBytes: 2 };
    await h.db.insert(namespaceQuotas).values([
      { taskQueue, ...stale, observedAt: new Date(listedAt.getTime() - 60_000) },
      { taskQueue, ...placed, observedAt: new Date(listedAt.getTime() + 1_000) },
    ]);
    const listing = { allocatable: { cpu: 4, memoryBytes: 8 }, quotas: [{ namespace: 'tenant-kept', cpu: 1, memoryBytes: 4 }] };
    try {
      await replaceClusterPicture(h.db, taskQueue, listing, listedAt);
      await replaceClusterPicture(h.db, taskQueue, listing, listedAt);
      expect(await quotaRows(taskQueue)).toEqual([placed, listing.quotas[0]]);
    } finally {
      await h.db.delete(namespaceQuotas).where(eq(namespaceQuotas.taskQueue, taskQueue));
      await h.db.delete(clusterCapacity).where(eq(clusterCapacity.taskQueue, taskQueue));
    }
  });

  it('counts a namespace the activity applies at once, and forgets it once deleteNamespace has removed it', async () => {
    const k8s = createKubernetesActivities({ config: { ...config, taskQueue: h.config.taskQueue }, kube, tenantDb, db: h.db }, { pollIntervalMs: 250 });
    const slug = uniqueSlug('cap');
    const row = () =>
      h.db
        .select({ cpu: namespaceQuotas.cpu, memoryBytes: namespaceQuotas.memoryBytes })
        .from(namespaceQuotas)
        .where(and(eq(namespaceQuotas.taskQueue, h.config.taskQueue), eq(namespaceQuotas.namespace, namespaceFor(slug))));
    try {
      await inActivity(() => k8s.applyNamespace(slug, namespacePlan));
      expect(await row()).toEqual([{ cpu: 1, memoryBytes: 2 ** 30 }]);
    } finally {
      await inActivity(() => k8s.deleteNamespace(slug));
    }
    expect(await row()).toEqual([]);
  });

  it('admission sums the picture in Postgres to what capacityView counts over its rows and the live plans', async () => {
    await refresh();
    // One snapshot for both reads: other files place and remove instances meanwhile.
    const { counted, summed } = await h.db.transaction(
      async (tx) => ({
        counted: capacityView((await clusterPicture(tx, h.config.taskQueue))!, undefined, await livePlans(tx)),
        summed: (await admissionView(tx, h.config.taskQueue))!,
      }),
      { isolationLevel: 'repeatable read' },
    );
    expect(summed.allocatable).toEqual(counted.allocatable);
    expect(summed.promised.cpu).toBeCloseTo(counted.promised.cpu, 6);
    expect(summed.promised.memoryBytes).toBeCloseTo(counted.promised.memoryBytes, 0);
  });

  it('admits one of two provisions that arrive together when there is room for one', async () => {
    const half = testPlan(`test-half-${uniqueSuffix()}`, '1000');
    await h.db.insert(plans).values(half);
    await refresh();
    // What admission will count: the picture, and the instances without a quota in it yet.
    const view = capacityView((await clusterPicture(h.db, h.config.taskQueue))!, undefined, await livePlans(h.db));
    // Room for one and a half: the first fits and the second does not, whatever the few small
    // instances other tests add meanwhile.
    const ratio = (view.promised.cpu + 1.5 * 1000) / view.allocatable.cpu;
    const app = await build({ config: { ...h.config, overcommitRatio: ratio }, db: h.db, temporal: h.temporal, checkCapacity: true });
    const slugs = [h.slug('cap-a'), h.slug('cap-b')];
    try {
      const answers = await Promise.all(slugs.map((slug) => provisionThrough(app, slug, half.name, 'Half')));
      expect(answers.map((a) => a.statusCode).sort(), answers.map((a) => a.body).join('\n')).toEqual([202, 409]);
      const refused = slugs[answers.findIndex((a) => a.statusCode === 409)]!;
      expect(answers.find((a) => a.statusCode === 409)!.json().detail).toMatch(/insufficient capacity for plan test-half/);
      expect(await findInstance(h.db, refused)).toBeUndefined();
    } finally {
      await app.close();
      // No worker runs the admitted provision: end it, so it stops counting against other checks.
      // (Its plan stays: the instance's status history names it. Plan lists in tests skip `test-…`.)
      for (const slug of slugs) {
        await h.temporal.workflow.getHandle(workflowIdFor(slug)).terminate('capacity test cleanup').catch(() => undefined);
        await h.db.update(instances).set({ status: 'failed' }).where(eq(instances.slug, slug));
      }
    }
  });

  it('refuses a provision with 409 before anything is created', async () => {
    await refresh();
    const app = await build({ config: { ...h.config, overcommitRatio: 0.000001 }, db: h.db, temporal: h.temporal, checkCapacity: true });
    try {
      const slug = h.slug('full');
      const res = await provisionThrough(app, slug, 'starter', 'No Room');
      expect(res.statusCode).toBe(409);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.json().detail).toMatch(/insufficient capacity/);
      expect(await findInstance(h.db, slug)).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('answers 503 naming the task queue when no worker has reported capacity, and creates nothing', async () => {
    // A task queue no worker has ever refreshed a picture for.
    const taskQueue = `no-worker-${uniqueSuffix()}`;
    const app = await build({ config: { ...h.config, taskQueue }, db: h.db, temporal: h.temporal, checkCapacity: true });
    try {
      const slug = h.slug('no-worker');
      const res = await provisionThrough(app, slug, 'starter', 'No Worker');
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.json().detail).toBe(`no worker has reported the cluster's capacity for task queue "${taskQueue}"; is a worker polling it?`);
      expect(await findInstance(h.db, slug)).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
