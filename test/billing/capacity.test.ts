// The capacity check against the real cluster: the quotas Shipyard's namespaces hold plus the
// requested plan must fit the nodes' allocatable × SHIPYARD_OVERCOMMIT_RATIO. A provision that
// does not fit is refused before anything is created. Here the API lists the cluster in-process;
// the API server asks a worker for the same listing (test/e2e/failures.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../api/app';
import { clusterListingFromWorkers } from '../../api/capacity';
import { createCapacityActivities, readCapacity } from '../../activities/capacity';
import { eq } from 'drizzle-orm';
import { findInstance } from '../../db/instances';
import { instances, plans } from '../../db/schema';
import { workflowIdFor } from '../../domain/operations';
import { testPlan } from '../support/catalogue-rows';
import { uniqueSuffix } from '../support/config';
import { failure, testbedDeps } from '../activities/testbed-deps';
import { startHarness, type Harness } from '../api/harness';

const { kube, tenantDb } = testbedDeps();
/** The listing a worker would answer the API server with. */
const listCluster = () => createCapacityActivities({ kube, db: h.db, config: { overcommitRatio: 1 } }).listClusterCapacity();
let h: Harness;

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

  it('admits one of two provisions that arrive together when there is room for one', async () => {
    const half = testPlan(`test-half-${uniqueSuffix()}`, '1000');
    await h.db.insert(plans).values(half);
    const view = await readCapacity(kube, h.db);
    // Room for one and a half: the first fits and the second does not, whatever the few small
    // instances other tests add meanwhile.
    const ratio = (view.promised.cpu + 1.5 * 1000) / view.allocatable.cpu;
    const app = await build({ config: { ...h.config, overcommitRatio: ratio }, db: h.db, temporal: h.temporal, listCluster });
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
    const app = await build({ config: { ...h.config, overcommitRatio: 0.000001 }, db: h.db, temporal: h.temporal, listCluster });
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

  it('answers 503 naming the task queue when no worker lists the cluster in time, and creates nothing', async () => {
    // The harness's task queue has no worker: the listing run is never picked up.
    const app = await build({ config: h.config, db: h.db, temporal: h.temporal, listCluster: clusterListingFromWorkers(h.temporal, h.config, 1_000) });
    try {
      const slug = h.slug('no-worker');
      const res = await provisionThrough(app, slug, 'starter', 'No Worker');
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.json().detail).toBe(`no worker listed the cluster for the capacity check within 1s; is a worker polling task queue "${h.config.taskQueue}"?`);
      expect(await findInstance(h.db, slug)).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
