// Fleet rollouts end to end: a worker and an API as real processes, instances provisioned and
// upgraded on the testbed's cluster. One instance cannot take the new version (a ResourceQuota of
// our own leaves no room for its surge pod), so its upgrade rolls back.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceFor } from '../../domain/instance';
import { rolloutActorFor, rolloutWorkflowIdFor } from '../../domain/rollouts';
import { connectTemporalClient } from '../../temporal/data-converter';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';

const FLEET = 6;
const BLOCK = 'rollout-test-no-room';
let stack: Stack;
let core: CoreV1Api;
const fleet: string[] = [];

interface Rollout {
  id: string;
  status: string;
  counts: Record<'total' | 'pending' | 'running' | 'succeeded' | 'rolledBack' | 'failed' | 'skipped', number>;
  waves: { index: number; size: number; status: string }[];
  failures: { slug: string; operationId?: string; error: string }[];
  endedAt?: string;
}

beforeAll(async () => {
  stack = await startStack({
    SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '20',
    // Low, so every rollout here continues as new at least once.
    SHIPYARD_ROLLOUT_HISTORY_EVENTS: '30',
  });
  const kube = new KubeConfig();
  kube.loadFromFile(stack.config.kubeconfig!);
  core = kube.makeApiClient(CoreV1Api);
  const run = uniqueSuffix();
  // One after another: a rollout takes instances in creation order, and the test relies on it.
  const created = [];
  for (let i = 0; i < FLEET; i++) {
    created.push(
      await stack.api.call('POST', '/v1/instances', { name: `Fleet ${i}`, slug: `fleet-${run}-${i}`, plan: 'starter', ownerEmail: 'f@fleet.test', version: '1.0.0' }),
    );
  }
  for (const res of created) expect(res.status, JSON.stringify(res.body)).toBe(202);
  // In creation order: the order a rollout takes them in.
  fleet.push(...created.map((res) => res.body.instance.slug as string));
  const ops = await Promise.all(created.map((res) => stack.api.settled(res.body.operation.id, 300_000)));
  for (const op of ops) expect(op.status).toBe('succeeded');
}, 420_000);

afterAll(async () => {
  if (stack) {
    await unblock(fleet[1]).catch(() => undefined);
    const deleted = await Promise.all(fleet.map((slug) => stack.api.call('DELETE', `/v1/instances/${slug}`)));
    await Promise.all(deleted.filter((d) => d.status === 202).map((d) => stack.api.settled(d.body.operation.id, 300_000)));
    await stack.stop();
  }
}, 420_000);

async function block(slug: string | undefined): Promise<void> {
  await core.createNamespacedResourceQuota({
    namespace: namespaceFor(slug!),
    body: { metadata: { name: BLOCK }, spec: { hard: { pods: '1' } } },
  });
}
async function unblock(slug: string | undefined): Promise<void> {
  await core.deleteNamespacedResourceQuota({ namespace: namespaceFor(slug!), name: BLOCK });
}

const read = async (id: string) => {
  const res = await stack.api.call<Rollout>('GET', `/v1/rollouts/${id}`);
  expect(res.status).toBe(200);
  return res.body;
};

async function waitFor(id: string, done: (r: Rollout) => boolean, timeoutMs = 240_000): Promise<Rollout> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await read(id);
    if (done(r)) return r;
    if (Date.now() > deadline) throw new Error(`rollout ${id} not there after ${timeoutMs / 1000}s: ${JSON.stringify(r)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const instance = async (slug: string) => (await stack.api.call('GET', `/v1/instances/${slug}`)).body as { status: string; version: string };

/** The upgrade operations a rollout started on an instance. */
async function upgradesBy(id: string, slug: string): Promise<{ id: string; status: string }[]> {
  const res = await stack.api.call('GET', `/v1/instances/${slug}/operations?limit=100`);
  return (res.body.items as { id: string; kind: string; actor: string; status: string }[]).filter(
    (op) => op.kind === 'upgrade' && op.actor === rolloutActorFor(id),
  );
}

async function runsOf(id: string): Promise<number> {
  const { client, connection } = await connectTemporalClient(stack.config);
  try {
    let runs = 0;
    for await (const _ of client.workflow.list({ query: `WorkflowId = '${rolloutWorkflowIdFor(id)}'` })) runs++;
    return runs;
  } finally {
    await connection.close();
  }
}

const sum = (c: Rollout['counts']) => c.pending + c.running + c.succeeded + c.rolledBack + c.failed + c.skipped;

describe('fleet rollouts', () => {
  it('halts when an upgrade rolls back past the budget, the rest untouched; resumes with a larger budget and finishes', async () => {
    await block(fleet[1]);
    const started = await stack.api.call('POST', '/v1/rollouts', {
      version: '1.1.0',
      selector: { slugs: fleet },
      strategy: { canary: 1, waves: [50, 100], maxParallel: 2, failureBudget: 0 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const { id } = started.body.rollout as Rollout;
    expect(started.body.rollout.waves.map((w: { size: number }) => w.size)).toEqual([1, 2, 3]);

    const halted = await waitFor(id, (r) => r.status === 'halted' && r.counts.running === 0);
    expect(halted.counts).toEqual({ total: FLEET, pending: 3, running: 0, succeeded: 2, rolledBack: 1, failed: 0, skipped: 0 });
    expect(halted.failures).toEqual([expect.objectContaining({ slug: fleet[1], operationId: expect.any(String) })]);
    expect(halted.waves.map((w) => w.status)).toEqual(['done', 'done', 'pending']);
    expect(await instance(fleet[1]!)).toMatchObject({ status: 'ready', version: '1.0.0' });
    for (const slug of fleet.slice(3)) {
      expect(await instance(slug)).toMatchObject({ status: 'ready', version: '1.0.0' });
      expect(await upgradesBy(id, slug)).toEqual([]);
    }

    // Resuming within the old budget is refused: it would halt again at once.
    expect((await stack.api.call('POST', `/v1/rollouts/${id}/resume`, {})).status).toBe(409);
    await unblock(fleet[1]);
    const resumed = await stack.api.call('POST', `/v1/rollouts/${id}/resume`, { failureBudget: 1 });
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'running', strategy: { failureBudget: 1 } });

    const done = await waitFor(id, (r) => r.status === 'succeeded');
    expect(done.counts).toEqual({ total: FLEET, pending: 0, running: 0, succeeded: FLEET - 1, rolledBack: 1, failed: 0, skipped: 0 });
    expect(sum(done.counts)).toBe(done.counts.total);
    expect(done.endedAt).toBeDefined();
    for (const [i, slug] of fleet.entries()) {
      expect(await instance(slug)).toMatchObject({ status: 'ready', version: i === 1 ? '1.0.0' : '1.1.0' });
    }
    expect(await runsOf(id)).toBeGreaterThan(1);
  }, 420_000);

  it('pause stops new upgrades (in-flight ones finish); a worker killed mid-rollout: it completes, no instance upgraded twice', async () => {
    const started = await stack.api.call('POST', '/v1/rollouts', {
      version: '1.2.0',
      selector: { slugs: fleet },
      strategy: { canary: 1, waves: [100], maxParallel: 1 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const { id } = started.body.rollout as Rollout;

    await waitFor(id, (r) => r.counts.succeeded >= 1);
    const paused = await stack.api.call('POST', `/v1/rollouts/${id}/pause`);
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body.status).toBe('paused');
    const settled = await waitFor(id, (r) => r.counts.running === 0);
    const upgradesWhenSettled = (await Promise.all(fleet.map((slug) => upgradesBy(id, slug)))).flat().length;
    // Nothing new starts while paused (a short look: an upgrade would start within a workflow task).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await Promise.all(fleet.map((slug) => upgradesBy(id, slug)))).flat()).toHaveLength(upgradesWhenSettled);
    expect((await read(id)).counts).toEqual(settled.counts);
    expect((await stack.api.call('POST', `/v1/rollouts/${id}/pause`)).status).toBe(409);

    expect((await stack.api.call('POST', `/v1/rollouts/${id}/resume`, {})).body.status).toBe('running');
    await waitFor(id, (r) => r.counts.running === 1 && r.counts.succeeded > settled.counts.succeeded);
    await stack.worker.stop('SIGKILL');
    stack.restartWorker();

    const done = await waitFor(id, (r) => r.status === 'succeeded', 300_000);
    expect(done.counts).toEqual({ total: FLEET, pending: 0, running: 0, succeeded: FLEET, rolledBack: 0, failed: 0, skipped: 0 });
    for (const slug of fleet) {
      expect(await upgradesBy(id, slug)).toEqual([expect.objectContaining({ status: 'succeeded' })]);
      expect(await instance(slug)).toMatchObject({ status: 'ready', version: '1.2.0' });
    }
  }, 420_000);

  it('abort: in-flight upgrades finish, no new ones start, the rollout ends aborted with nobody upgrading', async () => {
    const started = await stack.api.call('POST', '/v1/rollouts', {
      version: '1.3.0',
      selector: { slugs: fleet },
      strategy: { canary: 1, waves: [100], maxParallel: 2 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const { id } = started.body.rollout as Rollout;
    await waitFor(id, (r) => r.counts.succeeded >= 1 && r.counts.running >= 1);
    const aborted = await stack.api.call('POST', `/v1/rollouts/${id}/abort`);
    expect(aborted.status, JSON.stringify(aborted.body)).toBe(200);
    expect(aborted.body.status).toBe('aborted');

    const ended = await waitFor(id, (r) => r.endedAt !== undefined);
    expect(ended.status).toBe('aborted');
    expect(ended.counts.running).toBe(0);
    expect(ended.counts.pending).toBeGreaterThan(0);
    expect(sum(ended.counts)).toBe(FLEET);
    for (const slug of fleet) expect((await instance(slug)).status).toBe('ready');
    expect((await stack.api.call('POST', `/v1/rollouts/${id}/resume`, {})).status).toBe(409);
  }, 420_000);
});
