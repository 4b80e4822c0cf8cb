// Failures a customer would meet, end to end: a version that never becomes ready, a worker
// process killed in the middle of a provision, and a plan the cluster has no room for.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInstance } from '../../db/instances';
import { connectCatalogue } from '../../db/client';
import { plans } from '../../db/schema';
import { testPlan } from '../support/catalogue-rows';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';
import { nothingLeft, worldReader } from '../support/world';

let stack: Stack;
let world: ReturnType<typeof worldReader>;

beforeAll(async () => {
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '15' });
  world = worldReader(stack.config);
});
afterAll(async () => {
  await stack?.stop();
  await world?.close();
});

describe('failures', () => {
  it('create with a version that never becomes ready → failed, and nothing is left behind', async () => {
    const slug = `bad-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Bad Version', slug, plan: 'starter', ownerEmail: 'b@bad.test', version: 'fail-1.0.0' });
    expect(created.status).toBe(202);
    const op = await stack.api.settled(created.body.operation.id);
    expect(op.status).toBe('failed');
    expect(op.error).toMatch(/fail-1\.0\.0/);
    expect(op.steps.find((s) => s.name === 'wait for rollout')?.status).toBe('failed');
    expect(op.steps.filter((s) => s.status === 'compensated').map((s) => s.name)).toEqual(
      expect.arrayContaining(['create database', 'create namespace', 'deploy app', 'publish DNS record', 'create ingress']),
    );
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body.status).toBe('failed');
    expect(await world.read(slug)).toMatchObject(nothingLeft);
  });

  it('a worker killed mid-provision: a new worker finishes it, with no duplicate resources', async () => {
    const slug = `crash-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Crash Test', slug, plan: 'standard', ownerEmail: 'c@crash.test' });
    expect(created.status).toBe(202);
    const operationId = created.body.operation.id;

    // Kill the worker once the provision is under way (some steps done, not all).
    await stack.api.underWay(operationId);
    await stack.worker.stop('SIGKILL');
    stack.restartWorker();

    const op = await stack.api.settled(operationId);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    const w = await world.read(slug);
    expect(w.deployments).toHaveLength(1);
    expect(w.deployments[0]).toMatchObject({ replicas: 2, readyReplicas: 2 });
    expect(w.services).toEqual(['app']);
    expect(w.ingresses).toEqual(['app']);
    expect(w.certificates).toHaveLength(1);
    expect(w.dnsRecords.filter((r) => r.type === 'CNAME')).toHaveLength(1);
    expect(w.database && w.role).toBe(true);

    const teardown = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    expect((await stack.api.settled(teardown.body.operation.id)).status).toBe('succeeded');
    expect(await world.read(slug)).toMatchObject(nothingLeft);
  });

  it('a plan the cluster has no room for: 409 naming the shortfall, and nothing created (admitted against the picture the worker keeps)', async () => {
    const db = connectCatalogue(stack.config.databaseUrl, { max: 1 });
    const huge = testPlan(`test-huge-${uniqueSuffix()}`, '100000');
    await db.insert(plans).values(huge);
    try {
      const slug = `huge-${uniqueSuffix()}`;
      const refused = await stack.api.call('POST', '/v1/instances', { name: 'Huge', slug, plan: huge.name, ownerEmail: 'h@huge.test' });
      expect(refused.status, JSON.stringify(refused.body)).toBe(409);
      expect(refused.body.detail).toMatch(new RegExp(`insufficient capacity for plan ${huge.name}: quotas would request cpu [\\d.]+ of [\\d.]+ allocatable`));
      expect(await findInstance(db, slug)).toBeUndefined();
      expect(await world.read(slug)).toMatchObject(nothingLeft);
    } finally {
      await db.delete(plans).where(eq(plans.name, huge.name));
      await db.$client.end();
    }
  });
});
