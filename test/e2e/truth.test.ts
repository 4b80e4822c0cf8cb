// Statuses that stay true after abnormal ends, end to end with worker and API as real processes:
// a run terminated by an operator, an upgrade of an instance that has nothing deployed, and an
// instance left `provisioning` with no operation behind it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import type { Client, Connection } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCatalogue } from '../../db/client';
import { newId } from '../../db/ids';
import { getOperation, listOperations } from '../../db/operations';
import { instances } from '../../db/schema';
import { namespaceFor, ownerLabels } from '../../domain/instance';
import { workflowIdFor } from '../../domain/operations';
import { temporalCli } from '../../testbed/components/temporal';
import { connectTemporalClient } from '../../temporal/data-converter';
import { reconcileScheduleId } from '../../domain/schedules';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';
import { nothingLeft, worldReader } from '../support/world';

const RECONCILE_INTERVAL_SECONDS = 5;
let stack: Stack;
let world: ReturnType<typeof worldReader>;
let db: ReturnType<typeof connectCatalogue>;
let connection: Connection;
let temporal: Client;

beforeAll(async () => {
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '15', SHIPYARD_RECONCILE_INTERVAL_SECONDS: String(RECONCILE_INTERVAL_SECONDS) });
  world = worldReader(stack.config);
  db = connectCatalogue(stack.config.databaseUrl, { max: 2 });
  ({ client: temporal, connection } = await connectTemporalClient(stack.config));
});
afterAll(async () => {
  await stack?.stop();
  await world?.close();
  await db?.$client.end();
  await connection?.close();
});

async function readyInstance(prefix: string): Promise<string> {
  const slug = `${prefix}-${uniqueSuffix()}`;
  const created = await stack.api.call('POST', '/v1/instances', { name: prefix, slug, plan: 'starter', ownerEmail: 'ops@truth.test' });
  expect(created.status).toBe(202);
  expect((await stack.api.settled(created.body.operation.id)).status).toBe('succeeded');
  return slug;
}

describe('statuses that stay true', () => {
  it('an upgrade of an instance whose provision failed is refused by its runbook and leaves it failed, never ready', async () => {
    const slug = `nodeploy-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'No Deploy', slug, plan: 'starter', ownerEmail: 'n@truth.test', version: 'fail-1.0.0' });
    expect((await stack.api.settled(created.body.operation.id)).status).toBe('failed');
    const upgrade = await stack.api.call('POST', `/v1/instances/${slug}/upgrade`, { version: '1.0.0' });
    expect(upgrade.status, JSON.stringify(upgrade.body)).toBe(202);
    const op = await stack.api.settled(upgrade.body.operation.id);
    expect(op).toMatchObject({ status: 'failed', error: expect.stringContaining('nothing is deployed') });
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'failed', version: 'fail-1.0.0' });
    expect(await world.read(slug)).toMatchObject(nothingLeft);
  });

  it('an upgrade terminated from the Temporal CLI is settled by the scheduled reconcile, and the instance accepts the next operation', async () => {
    const slug = await readyInstance('term');
    const upgrade = await stack.api.call('POST', `/v1/instances/${slug}/upgrade`, { version: 'fail-2.0.0' });
    expect(upgrade.status).toBe(202);
    const operationId: string = upgrade.body.operation.id;
    await expect
      .poll(async () => (await stack.api.call('GET', `/v1/operations/${operationId}`)).body.steps.find((s: { name: string }) => s.name === 'wait for rollout')?.status, { timeout: 60_000, interval: 200 })
      .toBe('running');

    await promisify(execFile)(await temporalCli(), [
      'workflow', 'terminate', '--workflow-id', workflowIdFor(slug), '--reason', 'operator: stuck rollout',
      '--address', stack.config.temporalAddress, '--namespace', stack.config.temporalNamespace,
    ]);
    const terminatedAt = Date.now();
    // Read the catalogue itself, not the API (whose reads reconcile too): this is the schedule's work.
    await expect
      .poll(async () => (await getOperation(db, operationId))?.status, { timeout: (RECONCILE_INTERVAL_SECONDS + 20) * 1000, interval: 100 })
      .toBe('failed');
    const settledAfterMs = Date.now() - terminatedAt;
    console.log(`reconcile: terminated run settled in the catalogue ${settledAfterMs} ms after termination (schedule every ${RECONCILE_INTERVAL_SECONDS}s)`);

    const op = (await stack.api.call('GET', `/v1/operations/${operationId}`)).body;
    expect(op).toMatchObject({ status: 'failed', error: expect.stringContaining('operator: stuck rollout'), endedAt: expect.any(String) });
    const instance = (await stack.api.call('GET', `/v1/instances/${slug}`)).body;
    expect(instance).toMatchObject({ status: 'failed', currentOperation: null });
    const events = (await stack.api.call('GET', `/v1/instances/${slug}/events`)).body.items;
    expect(events.at(-1)).toMatchObject({ actor: 'reconciler', action: 'upgrade', outcome: 'failed' });

    // Not stuck: an upgrade repairs it (the broken image the terminated run left is replaced).
    const repair = await stack.api.call('POST', `/v1/instances/${slug}/upgrade`, { version: '1.1.0' });
    expect(repair.status).toBe(202);
    expect((await stack.api.settled(repair.body.operation.id)).status).toBe('succeeded');
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'ready', version: '1.1.0' });
    const teardown = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    expect(teardown.status).toBe(202);
    expect((await stack.api.settled(teardown.body.operation.id)).status).toBe('succeeded');
    expect(await world.read(slug)).toMatchObject(nothingLeft);
  });

  it('an instance left provisioning with no operation behind it is failed by the reconcile, and what it left is cleaned', async () => {
    const slug = `stuck-${uniqueSuffix()}`;
    const instanceId = newId('ins');
    // What an older Shipyard could leave: an instance row whose operation row was deleted while its run went on.
    await db.insert(instances).values({ id: instanceId, slug, name: 'Stuck', plan: 'starter', version: '1.0.0', ownerEmail: 's@truth.test', status: 'provisioning', updatedAt: new Date(Date.now() - 60_000) });
    const kube = new KubeConfig();
    kube.loadFromFile(stack.config.kubeconfig!);
    await kube.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespaceFor(slug), labels: ownerLabels(slug) } } });
    expect((await world.read(slug)).namespace).toBe(true);

    await temporal.schedule.getHandle(reconcileScheduleId(stack.config)).trigger();
    await expect
      .poll(async () => (await db.select({ status: instances.status }).from(instances).where(eq(instances.id, instanceId)))[0]?.status, { timeout: 30_000, interval: 200 })
      .toBe('failed');
    await expect
      .poll(async () => (await listOperations(db, instanceId, { limit: 100 })).items.find((o) => o.kind === 'cleanup' && o.status !== 'running')?.status, { timeout: 90_000, interval: 300 })
      .toBe('succeeded');
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'failed', currentOperation: null });
    expect(await world.read(slug)).toMatchObject(nothingLeft);
  });
});
