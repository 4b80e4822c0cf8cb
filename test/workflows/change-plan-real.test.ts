// change_plan on the real testbed: a plan bigger than the whole cluster is refused by the capacity
// check with nothing changed; a plan the cluster has room for in total but whose one pod fits no
// single node is applied, its pod finds no node, and the instance is rolled back to its old plan.
// (Quotas count against every other provision's capacity check while they exist, so the plans stay
// within what the shared testbed can spare.)
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCatalogue } from '../../db/client';
import { findInstance } from '../../db/instances';
import { plans } from '../../db/schema';
import { namespaceFor } from '../../domain/instance';
import { testPlan } from '../support/catalogue-rows';
import { testConfig, uniqueSuffix } from '../support/config';
import { type RealOperations, startRealOperations } from '../support/real-operations';


const db = connectCatalogue(testConfig().databaseUrl, { max: 2 });
/** More than the three fake nodes hold together (2,000 CPUs each). */
const biggerThanCluster = testPlan(`test-huge-${uniqueSuffix()}`, '100000');
/** Within the cluster's total, but its one pod needs more than any single node has. */
const fitsNoNode = testPlan(`test-wide-${uniqueSuffix()}`, '2500');
let ops: RealOperations;

async function quotaCpu(slug: string): Promise<string | undefined> {
  const kube = new KubeConfig();
  kube.loadFromFile(ops.config.kubeconfig!);
  const quotas = await kube.makeApiClient(CoreV1Api).listNamespacedResourceQuota({ namespace: namespaceFor(slug) });
  return quotas.items[0]?.spec?.hard?.['requests.cpu'];
}

beforeAll(async () => {
  await db.insert(plans).values([biggerThanCluster, fitsNoNode]);
  ops = await startRealOperations({ SHIPYARD_UNSCHEDULABLE_GRACE_SECONDS: '5' });
});
afterAll(async () => {
  await ops?.close();
  await db.delete(plans).where(inArray(plans.name, [biggerThanCluster.name, fitsNoNode.name]));
  await db.$client.end();
});

describe('change plan on the real cluster', () => {
  it('refuses a plan the cluster has no room for, changing nothing', async () => {
    const slug = `cpcap-${uniqueSuffix()}`;
    expect((await ops.provision(slug)).operation.status).toBe('succeeded');
    const before = await quotaCpu(slug);
    const outcome = await ops.operate(slug, 'change_plan', { request: { plan: biggerThanCluster } });
    expect(outcome.operation.status).toBe('failed');
    expect(outcome.operation.error).toMatch(/capacity/i);
    expect(outcome.instance).toMatchObject({ status: 'ready', plan: 'starter' });
    expect(await quotaCpu(slug)).toBe(before);
    expect((await ops.operate(slug, 'teardown')).operation.status).toBe('succeeded');
  });

  it('rolls back to the old plan when the new size cannot roll out', async () => {
    const slug = `cprb-${uniqueSuffix()}`;
    expect((await ops.provision(slug)).operation.status).toBe('succeeded');
    const before = await quotaCpu(slug);
    const outcome = await ops.operate(slug, 'change_plan', { request: { plan: fitsNoNode } });
    expect(outcome.operation.status, JSON.stringify(outcome.operation.steps, null, 1)).toBe('rolled_back');
    expect(outcome.operation.steps.find((s) => s.name === 'wait for rollout')).toMatchObject({ status: 'failed', error: expect.stringMatching(/no node|nodes are available/) });
    expect(outcome.instance).toMatchObject({ status: 'ready', plan: 'starter' });
    expect(await quotaCpu(slug)).toBe(before);
    const found = await findInstance(db, slug);
    expect(found?.instance.plan).toBe('starter');
    expect((await ops.operate(slug, 'teardown')).operation.status).toBe('succeeded');
  });
});
