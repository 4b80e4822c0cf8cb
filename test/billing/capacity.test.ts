// The capacity check against the real cluster: the quotas Shipyard's namespaces hold plus the
// requested plan must fit the nodes' allocatable × SHIPYARD_OVERCOMMIT_RATIO. A provision that
// does not fit is refused before anything is created.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../api/app';
import { createCapacityActivities, readCapacity } from '../../activities/capacity';
import * as catalogue from '../../db/catalogue';
import { failure, testbedDeps } from '../activities/testbed-deps';
import { startHarness, type Harness } from '../api/harness';

const { kube, tenantDb } = testbedDeps();
let h: Harness;

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
    const view = await readCapacity(kube);
    expect(view.allocatable.cpu).toBeGreaterThan(0);
    expect(view.allocatable.memoryBytes).toBeGreaterThan(0);
    await createCapacityActivities({ kube, config: { overcommitRatio: 1 } }).checkCapacity('fits', starter);
  });

  it('refuses a plan that does not fit, saying by how much (non-retryable InsufficientCapacity)', async () => {
    const tiny = createCapacityActivities({ kube, config: { overcommitRatio: 0.000001 } });
    const message = await failure(tiny.checkCapacity('too-big', starter), 'InsufficientCapacity');
    expect(message).toMatch(/insufficient capacity for plan starter: quotas would request cpu .* allocatable \(overcommit ratio 0.000001\)/);
  });

  it('refuses a provision with 409 before anything is created', async () => {
    const app = await build({ config: { ...h.config, overcommitRatio: 0.000001 }, db: h.db, temporal: h.temporal, kube });
    try {
      const slug = h.slug('full');
      const res = await app.inject({
        method: 'POST',
        url: '/v1/instances',
        headers: { authorization: `Bearer ${h.keys.operator}` },
        payload: { name: 'No Room', slug, plan: 'starter', ownerEmail: 'owner@example.com' },
      });
      expect(res.statusCode).toBe(409);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.json().detail).toMatch(/insufficient capacity/);
      expect(await catalogue.findInstance(h.db, slug)).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
