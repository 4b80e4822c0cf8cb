// change_plan on the real testbed: a plan whose pods cannot fit any node is refused by the
// capacity check with nothing changed; with room allowed (a high overcommit ratio) the same plan
// is applied, its pods find no node, and the instance is rolled back to its old plan.
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCatalogue } from '../../db/client';
import * as catalogue from '../../db/catalogue';
import { plans } from '../../db/schema';
import type { Plan } from '../../domain/instance';
import { namespaceFor } from '../../domain/instance';
import { testConfig, uniqueSuffix } from '../support/config';
import { type RealOperations, startRealOperations } from '../support/real-operations';

/** Far beyond any fake node: its one pod can never be scheduled. */
const hugePlan = (name: string): Plan => ({
  name, cpu: '100000', memory: '2Gi', pods: 1, replicas: 1, pricePerHourCents: 1, suspendedPricePerHourCents: 0, dbConnections: 5,
});

const db = connectCatalogue(testConfig().databaseUrl, { max: 2 });
const huge = hugePlan(`test-huge-${uniqueSuffix()}`);
let strict: RealOperations;
let lenient: RealOperations;

async function quotaCpu(slug: string): Promise<string | undefined> {
  const kube = new KubeConfig();
  kube.loadFromFile(strict.config.kubeconfig!);
  const quotas = await kube.makeApiClient(CoreV1Api).listNamespacedResourceQuota({ namespace: namespaceFor(slug) });
  return quotas.items[0]?.spec?.hard?.['requests.cpu'];
}

beforeAll(async () => {
  await db.insert(plans).values(huge);
  strict = await startRealOperations({ SHIPYARD_UNSCHEDULABLE_GRACE_SECONDS: '5' });
  lenient = await startRealOperations({ SHIPYARD_UNSCHEDULABLE_GRACE_SECONDS: '5', SHIPYARD_OVERCOMMIT_RATIO: '100000' });
});
afterAll(async () => {
  await strict?.close();
  await lenient?.close();
  await db.delete(plans).where(eq(plans.name, huge.name));
  await db.$client.end();
});

describe('change plan on the real cluster', () => {
  it('refuses a plan the cluster has no room for, changing nothing', async () => {
    const slug = `cpcap-${uniqueSuffix()}`;
    expect((await strict.provision(slug)).operation.status).toBe('succeeded');
    const before = await quotaCpu(slug);
    const outcome = await strict.operate(slug, 'change_plan', { request: { plan: huge } });
    expect(outcome.operation.status).toBe('failed');
    expect(outcome.operation.error).toMatch(/capacity/i);
    expect(outcome.instance).toMatchObject({ status: 'ready', plan: 'starter' });
    expect(await quotaCpu(slug)).toBe(before);
    expect((await strict.operate(slug, 'teardown')).operation.status).toBe('succeeded');
  });

  it('rolls back to the old plan when the new size cannot roll out', async () => {
    const slug = `cprb-${uniqueSuffix()}`;
    expect((await lenient.provision(slug)).operation.status).toBe('succeeded');
    const before = await quotaCpu(slug);
    const outcome = await lenient.operate(slug, 'change_plan', { request: { plan: huge } });
    expect(outcome.operation.status, JSON.stringify(outcome.operation.steps, null, 1)).toBe('rolled_back');
    expect(outcome.operation.steps.find((s) => s.name === 'wait for rollout')).toMatchObject({ status: 'failed', error: expect.stringMatching(/no node|nodes are available/) });
    expect(outcome.instance).toMatchObject({ status: 'ready', plan: 'starter' });
    expect(await quotaCpu(slug)).toBe(before);
    const found = await catalogue.findInstance(db, slug);
    expect(found?.instance.plan).toBe('starter');
    expect((await lenient.operate(slug, 'teardown')).operation.status).toBe('succeeded');
  });
});
