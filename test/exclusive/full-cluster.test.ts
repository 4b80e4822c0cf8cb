// Tests that leave no room on any node of the shared cluster, so no other test may run beside
// them (vitest project `exclusive`, run alone after the others): a rollout whose pods find no
// node fails early with the scheduler's reason, and a provision into a full cluster leaves nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { connectCatalogue } from '../../db/client';
import { migrateCatalogue } from '../../db/migrate';
import { inActivity } from '../activities/activity-context';
import { failure, testbedDeps, testPlan, uniqueSlug } from '../activities/testbed-deps';
import { type FullCluster, fillCluster } from '../support/full-cluster';
import { startRealOperations } from '../support/real-operations';
import { nothingLeft } from '../support/world';

const deps = testbedDeps();
// The namespace activities keep the quota rows admission reads (db/capacity.ts).
const catalogue = connectCatalogue(deps.config.databaseUrl, { max: 2 });
const k8s = createKubernetesActivities({ ...deps, db: catalogue }, { pollIntervalMs: 250 });
const run = <T>(fn: () => Promise<T>) => inActivity(fn).then((r) => r.result);

// Full for both cases, from the first to the last: the window in which nothing else may run.
let cluster: FullCluster | undefined;
beforeAll(async () => {
  await migrateCatalogue(deps.config.databaseUrl);
  cluster = await fillCluster(deps.kube);
});

afterAll(async () => {
  await cluster?.release();
  await deps.tenantDb.end();
  await catalogue.$client.end();
});

describe('a cluster with no room left', () => {
  it('fails a rollout whose pods find no node within the grace period, with the scheduler\'s reason', async () => {
    const full = uniqueSlug('full');
    await run(() => k8s.applyNamespace(full, testPlan));
    try {
      await run(() => k8s.applyWorkload(full, { plan: testPlan, version: '1.0.0', replicas: 1 }));
      const graceSeconds = 5;
      const details: string[] = [];
      const started = Date.now();
      const message = await failure(
        inActivity(() => k8s.waitForRollout(full, { timeoutSeconds: 120, unschedulableGraceSeconds: graceSeconds, version: '1.0.0' }), {
          onHeartbeat: (h) => details.push((h as { detail: string }).detail),
        }),
        'Unschedulable',
      );
      const elapsed = Date.now() - started;
      const reason = /Pending, unschedulable: 0\/\d+ nodes are available: \d+ Too many pods/;
      expect(message).toMatch(reason);
      expect(elapsed).toBeGreaterThanOrEqual(graceSeconds * 1000);
      expect(elapsed).toBeLessThan((graceSeconds + 15) * 1000);
      // While it waited, the live step could tell why.
      expect(details.some((d) => reason.test(d) && d.includes(`giving up after ${graceSeconds}s`))).toBe(true);

      // A retry after a worker crash keeps the unschedulable clock of the attempt before.
      const retried = Date.now();
      await failure(
        inActivity(() => k8s.waitForRollout(full, { timeoutSeconds: 120, unschedulableGraceSeconds: 60, version: '1.0.0' }), {
          heartbeatDetails: { deadlineMs: Date.now() + 120_000, unschedulableSinceMs: Date.now() - 61_000, detail: '' },
          attempt: 2,
        }),
        'Unschedulable',
      );
      expect(Date.now() - retried).toBeLessThan(5_000);
    } finally {
      await run(() => k8s.deleteNamespace(full));
    }
  });
});

describe('a provision into a full cluster', () => {
  it('fails within the grace period with the scheduler\'s reason in its step, and leaves nothing', async () => {
    const graceSeconds = 5;
    const ops = await startRealOperations({ SHIPYARD_UNSCHEDULABLE_GRACE_SECONDS: String(graceSeconds), SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '120' });
    try {
      const slug = uniqueSlug('fullp');
      const started = Date.now();
      const outcome = await ops.provision(slug);
      const elapsed = Date.now() - started;
      expect(outcome.operation.status).toBe('failed');
      expect(outcome.instance.status).toBe('failed');
      const rollout = outcome.operation.steps.find((s) => s.name === 'wait for rollout');
      expect(rollout).toMatchObject({ status: 'failed', error: expect.stringMatching(/0\/\d+ nodes are available: \d+ Too many pods/) });
      // Well before the 120 s rollout timeout: the wait gave up once the grace period was over.
      expect(elapsed).toBeLessThan(60_000);
      console.log(`full cluster: provision failed Unschedulable after ${elapsed} ms (grace ${graceSeconds}s, rollout timeout 120s)`);
      expect(await ops.world.read(slug)).toMatchObject(nothingLeft);
    } finally {
      await ops.close();
    }
  });
});
