// The instance and operation API against real Postgres and Temporal. No worker polls the task
// queue, so a started operation stays `running` until the test terminates it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT } from '../../api/app';
import { eq } from 'drizzle-orm';
import { newId } from '../../db/ids';
import { findInstance, markInstance } from '../../db/instances';
import { finishOperation, getOperation, insertOperationIfAllowed, listOperations, setRunId } from '../../db/operations';
import { operations } from '../../db/schema';
import { build } from '../../api/app';
import { connectCatalogue } from '../../db/client';
import type { InstanceStatus } from '../../domain/instance';
import { kindSpec } from '../../domain/operation-kinds';
import { workflowIdFor } from '../../domain/operations';
import { decodedValues } from '../support/history';
import { type Harness, startHarness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const owner = 'owner@example.com';

async function create(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return h.call('operator', { method: 'POST', url: '/v1/instances', payload: body, headers });
}

/** A provisioned-looking instance in `status`, with no operation running. */
const settledInstance = (status: InstanceStatus, version?: string) => h.settledInstance(status, version);

/** A running upgrade's row, as the API inserts it before it starts the run. */
async function upgradeRow(slug: string, instanceId: string, actor: string) {
  const inserted = await insertOperationIfAllowed(
    h.db,
    { id: newId('op'), instanceId, kind: 'upgrade', workflowId: workflowIdFor(slug), actor },
    () => undefined,
  );
  if (!('operation' in inserted)) throw new Error('the operation row was not inserted');
  return inserted.operation;
}

describe('POST /v1/instances', () => {
  it('accepts a provision: 202, Location, the instance shown provisioning, a running operation', async () => {
    const slug = h.slug('acme');
    const res = await create({ name: 'Acme Corp', slug, plan: 'starter', ownerEmail: owner });
    expect(res.statusCode).toBe(202);
    expect(res.headers.location).toBe(`/v1/instances/${slug}`);
    const { instance, operation } = res.json();
    expect(instance).toMatchObject({
      id: expect.stringMatching(/^ins_/),
      slug,
      name: 'Acme Corp',
      plan: 'starter',
      version: h.config.defaultVersion,
      status: 'provisioning',
      hostname: `${slug}.${h.config.baseDomain}`,
      namespace: `tenant-${slug}`,
      ownerEmail: owner,
      currentOperation: { id: operation.id, kind: 'provision', status: 'running' },
    });
    expect(operation).toMatchObject({ id: expect.stringMatching(/^op_/), instanceId: instance.id, kind: 'provision', status: 'running', steps: [] });
    expect(operation.actor).toMatch(/^test-operator-/);

    // The workflow got the full plan, the version and the settings, tied to the row by its memo.
    const row = (await getOperation(h.db, operation.id))!;
    expect(row.workflowId).toBe(workflowIdFor(slug));
    const handle = h.temporal.workflow.getHandle(row.workflowId, row.runId!);
    const description = await handle.describe();
    expect(description.type).toBe(kindSpec('provision').workflowType);
    expect(description.taskQueue).toBe(h.config.taskQueue);
    expect(description.memo).toEqual({ operationId: operation.id, instanceId: instance.id, kind: 'provision' });
    const history = await handle.fetchHistory();
    const start = history.events![0]!.workflowExecutionStartedEventAttributes!;
    const [input] = await decodedValues(h.temporal, start.input!.payloads);
    expect(input).toMatchObject({
      operationId: operation.id,
      instanceId: instance.id,
      slug,
      actor: operation.actor,
      version: h.config.defaultVersion,
      plan: { name: 'starter', cpu: '1', memory: '2Gi', pods: 10, replicas: 1, pricePerHourCents: 5 },
      settings: { rolloutTimeoutSeconds: h.config.rolloutTimeoutSeconds, unschedulableGraceSeconds: h.config.unschedulableGraceSeconds },
    });

    const got = await h.call('viewer', { method: 'GET', url: `/v1/instances/${instance.id}` });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(instance);

    const events = await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}/events` });
    expect(events.json().items).toEqual([
      expect.objectContaining({ actor: operation.actor, action: 'provision', outcome: 'requested', operationId: operation.id }),
    ]);
  });

  it('derives the slug from the name, with a suffix when taken', async () => {
    const name = `Zeta ${Date.now()}`;
    const first = await create({ name, plan: 'starter', ownerEmail: owner });
    expect(first.statusCode).toBe(202);
    h.track(first.json().instance.slug);
    const second = await create({ name, plan: 'starter', ownerEmail: owner });
    expect(second.statusCode).toBe(202);
    h.track(second.json().instance.slug);
    expect(first.json().instance.slug).toMatch(/^zeta-\d+$/);
    expect(second.json().instance.slug).toBe(`${first.json().instance.slug}-2`);
  });

  it('answers 400 with a field for each problem', async () => {
    const res = await create({ name: '', slug: 'Bad_Slug', plan: 'starter', ownerEmail: 'not-an-email', version: '.1' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({ type: expect.any(String), title: expect.any(String), status: 400, instance: '/v1/instances' });
    expect([...new Set(body.errors.map((e: { field: string }) => e.field))].sort()).toEqual(['name', 'ownerEmail', 'slug', 'version']);
    for (const error of body.errors) expect(error.message).toEqual(expect.any(String));

    const missing = await create({});
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors).toEqual(
      expect.arrayContaining([
        { field: 'name', message: 'is required' },
        { field: 'plan', message: 'is required' },
        { field: 'ownerEmail', message: 'is required' },
      ]),
    );
  });

  it.each([
    ['a reserved slug', 'admin'],
    ['a slug ending in a hyphen', 'acme-'],
    ['a slug starting with a digit', '1acme'],
    ['a too short slug', 'ab'],
    ['a too long slug', `a${'b'.repeat(40)}`],
  ])('rejects %s', async (_, slug) => {
    const res = await create({ name: 'X', slug, plan: 'starter', ownerEmail: owner });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([expect.objectContaining({ field: 'slug' })]);
  });

  it('rejects unknown fields instead of dropping them', async () => {
    const res = await create({ name: 'X', slug: h.slug('unknown'), plan: 'starter', ownerEmail: owner, replicas: 9 });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ field: 'replicas', message: 'is not a known field' }]);
  });

  it('rejects wrongly typed fields rather than coercing them', async () => {
    const res = await create({ name: 42, plan: 'starter', ownerEmail: owner });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([expect.objectContaining({ field: 'name' })]);
  });

  it('answers 413 problem+json for a body over 64 KiB', async () => {
    const res = await create({ name: 'X', plan: 'starter', ownerEmail: owner, pad: 'x'.repeat(BODY_LIMIT) });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 413 });
  });

  it('answers 400 problem+json for a body that is not JSON', async () => {
    const res = await h.call('operator', {
      method: 'POST',
      url: '/v1/instances',
      payload: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers 422 for an unknown plan', async () => {
    const res = await create({ name: 'X', slug: h.slug('plan'), plan: 'platinum', ownerEmail: owner });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual([{ field: 'plan', message: 'is not a known plan' }]);
  });

  it('answers 409 when the slug is taken, deleted instances included', async () => {
    const { slug } = await settledInstance('deleted');
    const res = await create({ name: 'Again', slug, plan: 'starter', ownerEmail: owner });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ status: 409, detail: expect.stringContaining(slug), errors: [{ field: 'slug', message: 'is taken' }] });
  });

  describe('with an Idempotency-Key', () => {
    it('replays the first response for the same body and starts one operation only', async () => {
      const slug = h.slug('idem');
      const key = `idem-${slug}`;
      const body = { name: 'Idem', slug, plan: 'starter', ownerEmail: owner };
      const first = await create(body, { 'idempotency-key': key });
      // Same body, keys in another order: still the same request.
      const second = await create({ ownerEmail: owner, plan: 'starter', slug, name: 'Idem' }, { 'idempotency-key': key });
      expect(first.statusCode).toBe(202);
      expect(second.statusCode).toBe(202);
      expect(second.json()).toEqual(first.json());
      expect(second.headers.location).toBe(first.headers.location);
      expect(second.headers['idempotent-replayed']).toBe('true');
      const instance = (await findInstance(h.db, slug))!.instance;
      expect((await listOperations(h.db, instance.id, { limit: 100 })).items).toHaveLength(1);
    });

    it('answers 409 for the same key with another body', async () => {
      const slug = h.slug('idem');
      const key = `idem-${slug}`;
      expect((await create({ name: 'Idem', slug, plan: 'starter', ownerEmail: owner }, { 'idempotency-key': key })).statusCode).toBe(202);
      const other = await create({ name: 'Idem', slug, plan: 'pro', ownerEmail: owner }, { 'idempotency-key': key });
      expect(other.statusCode).toBe(409);
      expect(other.json().detail).toMatch(/Idempotency-Key/);
    });

    it('lets a failed request be retried with the same key', async () => {
      const slug = h.slug('idem');
      const key = `idem-${slug}`;
      const bad = await create({ name: 'Idem', slug, plan: 'platinum', ownerEmail: owner }, { 'idempotency-key': key });
      expect(bad.statusCode).toBe(422);
      const again = await create({ name: 'Idem', slug, plan: 'platinum', ownerEmail: owner }, { 'idempotency-key': key });
      expect(again.statusCode).toBe(422);
    });
  });
});

describe('operations on an instance', () => {
  it('409 names the operation already running', async () => {
    const slug = h.slug('busy');
    const created = await create({ name: 'Busy', slug, plan: 'starter', ownerEmail: owner });
    const running = created.json().operation;
    for (const [method, path, payload] of [
      ['POST', 'upgrade', { version: '2.0.0' }],
      ['POST', 'suspend', undefined],
      ['POST', 'resume', undefined],
      ['DELETE', '', undefined],
    ] as const) {
      const res = await h.call('operator', { method, url: `/v1/instances/${slug}${path ? `/${path}` : ''}`, payload });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({ operation: { id: running.id, kind: 'provision' }, detail: expect.stringContaining(running.id) });
    }
    // Nothing was left behind by the refused attempts.
    expect((await listOperations(h.db, created.json().instance.id, { limit: 100 })).items).toHaveLength(1);
  });

  it('409 names the running operation when only Temporal knows it is running', async () => {
    // The catalogue says nothing runs (as after a lost write); the workflow id is still held.
    const slug = h.slug('race');
    const created = await create({ name: 'Race', slug, plan: 'starter', ownerEmail: owner });
    const running = created.json().operation;
    await finishOperation(h.db, running.id, { status: 'succeeded', steps: [] });
    await markInstance(h.db, created.json().instance.id, { status: 'ready' });
    const res = await h.call('operator', { method: 'POST', url: `/v1/instances/${slug}/suspend` });
    expect(res.statusCode).toBe(409);
    expect(res.json().operation).toEqual({ id: running.id, kind: 'provision' });
    expect((await listOperations(h.db, created.json().instance.id, { limit: 100 })).items).toHaveLength(1);
  });

  it('starts upgrade, suspend, resume and teardown from the states that allow them', async () => {
    const ready = await settledInstance('ready');
    const upgrade = await h.call('operator', { method: 'POST', url: `/v1/instances/${ready.slug}/upgrade`, payload: { version: '2.0.0' } });
    expect(upgrade.statusCode).toBe(202);
    expect(upgrade.json().operation).toMatchObject({ kind: 'upgrade', status: 'running', instanceId: ready.id });
    expect(upgrade.headers.location).toBe(`/v1/operations/${upgrade.json().operation.id}`);
    const shown = await h.call('viewer', { method: 'GET', url: `/v1/instances/${ready.slug}` });
    expect(shown.json()).toMatchObject({ status: 'upgrading', currentOperation: { id: upgrade.json().operation.id } });
    const row = (await getOperation(h.db, upgrade.json().operation.id))!;
    const history = await h.temporal.workflow.getHandle(row.workflowId, row.runId!).fetchHistory();
    const [input] = await decodedValues(h.temporal, history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads);
    expect(input).toMatchObject({ version: '2.0.0', plan: { name: 'standard', replicas: 2 }, instanceId: ready.id });

    const suspendable = await settledInstance('ready');
    const suspend = await h.call('operator', { method: 'POST', url: `/v1/instances/${suspendable.id}/suspend` });
    expect(suspend.statusCode).toBe(202);
    expect((await h.call('viewer', { method: 'GET', url: `/v1/instances/${suspendable.slug}` })).json().status).toBe('suspending');

    const suspended = await settledInstance('suspended');
    const resume = await h.call('operator', { method: 'POST', url: `/v1/instances/${suspended.slug}/resume` });
    expect(resume.statusCode).toBe(202);
    expect((await h.call('viewer', { method: 'GET', url: `/v1/instances/${suspended.slug}` })).json().status).toBe('resuming');

    const failed = await settledInstance('failed');
    const teardown = await h.call('operator', { method: 'DELETE', url: `/v1/instances/${failed.slug}` });
    expect(teardown.statusCode).toBe(202);
    expect(teardown.json().operation.kind).toBe('teardown');
    expect((await h.call('viewer', { method: 'GET', url: `/v1/instances/${failed.slug}` })).json().status).toBe('deleting');

    const events = await h.call('viewer', { method: 'GET', url: `/v1/instances/${ready.slug}/events` });
    expect(events.json().items.at(-1)).toMatchObject({ action: 'upgrade', outcome: 'requested', actor: expect.stringMatching(/^test-operator-/) });
  });

  it.each([
    ['resume a ready instance', 'ready', 'POST', 'resume', undefined],
    ['suspend a suspended instance', 'suspended', 'POST', 'suspend', undefined],
    ['upgrade a suspended instance', 'suspended', 'POST', 'upgrade', { version: '2.0.0' }],
    ['upgrade a deleted instance', 'deleted', 'POST', 'upgrade', { version: '2.0.0' }],
    ['upgrade to the version running', 'ready', 'POST', 'upgrade', { version: '1.0.0' }],
    ['delete a deleted instance', 'deleted', 'DELETE', '', undefined],
  ] as const)('409 for nonsense: %s', async (_, status, method, path, payload) => {
    const { slug, id } = await settledInstance(status);
    const res = await h.call('operator', { method, url: `/v1/instances/${slug}${path ? `/${path}` : ''}`, payload });
    expect(res.statusCode).toBe(409);
    expect(res.json().detail).toContain(slug);
    expect((await listOperations(h.db, id, { limit: 100 })).items).toHaveLength(1);
    const events = (await h.call('viewer', { method: 'GET', url: `/v1/instances/${id}/events` })).json().items;
    expect(events.at(-1)).toMatchObject({ outcome: 'refused', actor: expect.stringMatching(/^test-operator-/), message: res.json().detail });
  });

  it('404 for an unknown instance', async () => {
    for (const [method, url] of [
      ['GET', '/v1/instances/nobody-here'],
      ['GET', '/v1/instances/ins_00000000000000000000000000'],
      ['POST', '/v1/instances/nobody-here/suspend'],
      ['DELETE', '/v1/instances/nobody-here'],
      ['GET', '/v1/instances/nobody-here/events'],
      ['GET', '/v1/instances/nobody-here/operations'],
      ['GET', '/v1/operations/op_00000000000000000000000000'],
    ] as const) {
      const res = await h.call('operator', { method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});

describe('GET /v1/operations/{id} and cancel', () => {
  it('shows a terminated run as it ended, not as a stale running row', async () => {
    const slug = h.slug('term');
    const created = await create({ name: 'Term', slug, plan: 'starter', ownerEmail: owner });
    const { operation, instance } = created.json();
    expect((await h.call('viewer', { method: 'GET', url: `/v1/operations/${operation.id}` })).json().status).toBe('running');
    await h.terminate(slug);
    const after = await h.call('viewer', { method: 'GET', url: `/v1/operations/${operation.id}` });
    expect(after.statusCode).toBe(200);
    expect(after.json()).toMatchObject({ id: operation.id, status: 'failed', error: expect.stringContaining('terminated'), endedAt: expect.any(String) });
    // An abandoned provision may have left things behind: the instance is failed, and a cleanup
    // (started by the reconciler) removes them.
    const shown = (await h.call('viewer', { method: 'GET', url: `/v1/instances/${instance.id}` })).json();
    expect(shown).toMatchObject({ status: 'failed', currentOperation: { kind: 'cleanup', actor: 'reconciler', status: 'running' } });
    const listed = await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}/operations` });
    expect(listed.json().items.map((o: { kind: string }) => o.kind)).toEqual(['cleanup', 'provision']);
    expect(listed.json().items[1]).toEqual(after.json());
  });

  it('settles an operation whose run never started as failed, leaves its instance as it was, and accepts the next request', async () => {
    const { slug, id } = await settledInstance('ready');
    // What a process that died between inserting the row and starting the run leaves behind,
    // longer ago than any start takes.
    const operation = await upgradeRow(slug, id, 'test-lost-start');
    await h.db.update(operations).set({ startedAt: new Date(Date.now() - 10 * 60_000) }).where(eq(operations.id, operation.id));

    const settled = await h.call('viewer', { method: 'GET', url: `/v1/operations/${operation.id}` });
    expect(settled.json()).toMatchObject({ status: 'failed', error: 'the workflow of this operation never started' });
    expect((await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}` })).json()).toMatchObject({ status: 'ready' });
    const events = (await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}/events` })).json().items;
    expect(events.at(-1)).toMatchObject({ actor: 'reconciler', outcome: 'failed', message: expect.stringContaining('instance left as it was') });
    const next = await h.call('operator', { method: 'POST', url: `/v1/instances/${slug}/upgrade`, payload: { version: '2.0.0' } });
    expect(next.statusCode).toBe(202);
    await h.terminate(slug);
  });

  it('settles an operation whose run timed out as failed with that reason, and its instance failed (it may be half-changed)', async () => {
    const { slug, id } = await settledInstance('ready');
    const operation = await upgradeRow(slug, id, 'test-timeout');
    // No worker polls this queue: the run times out, as one whose workers were all gone would.
    const handle = await h.temporal.workflow.start('upgradeInstance', {
      workflowId: workflowIdFor(slug),
      taskQueue: h.config.taskQueue,
      args: [{}],
      memo: { operationId: operation.id, instanceId: id, kind: 'upgrade' },
      workflowExecutionTimeout: '1s',
    });
    await setRunId(h.db, operation.id, handle.firstExecutionRunId);
    await expect.poll(async () => (await handle.describe()).status.name, { timeout: 30_000, interval: 250 }).toBe('TIMED_OUT');

    const settled = await h.call('viewer', { method: 'GET', url: `/v1/operations/${operation.id}` });
    expect(settled.json()).toMatchObject({ status: 'failed', error: 'the workflow timed out', endedAt: expect.any(String) });
    expect((await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}` })).json()).toMatchObject({ status: 'failed' });
  });

  it('cancels a running operation (202) and refuses one that is not running (409)', async () => {
    const slug = h.slug('cancel');
    const { operation } = (await create({ name: 'Cancel', slug, plan: 'starter', ownerEmail: owner })).json();
    const res = await h.call('operator', { method: 'POST', url: `/v1/operations/${operation.id}/cancel` });
    expect(res.statusCode).toBe(202);
    expect(res.json().operation).toMatchObject({ id: operation.id, status: 'running' });
    const row = (await getOperation(h.db, operation.id))!;
    const history = await h.temporal.workflow.getHandle(row.workflowId, row.runId!).fetchHistory();
    expect(history.events!.some((e) => e.workflowExecutionCancelRequestedEventAttributes)).toBe(true);

    await h.terminate(slug);
    const again = await h.call('operator', { method: 'POST', url: `/v1/operations/${operation.id}/cancel` });
    expect(again.statusCode).toBe(409);
    const events = (await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}/events` })).json().items;
    expect(events.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`)).toEqual([
      'provision:requested',
      'cancel:requested',
      'provision:failed',
      'cleanup:requested',
      'cancel:refused',
    ]);
    expect(events[2]).toMatchObject({ actor: 'reconciler', message: expect.stringContaining('terminated') });
    expect(events.at(-1).message).toContain('not running');
  });
});

describe('GET /v1/instances', () => {
  it('filters by status and pages with a cursor', async () => {
    const made = [await settledInstance('suspended'), await settledInstance('suspended'), await settledInstance('suspended')];
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/instances?status=suspended&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await h.call('viewer', { method: 'GET', url });
      expect(res.statusCode).toBe(200);
      const body: { items: { id: string; status: string }[]; nextCursor: string | null } = res.json();
      expect(body.items.length).toBeLessThanOrEqual(2);
      for (const item of body.items) expect(item.status).toBe('suspended');
      seen.push(...body.items.map((i) => i.id));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(expect.arrayContaining(made.map((m) => m.id)));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('rejects a bad status, limit or cursor with field detail', async () => {
    for (const [query, field] of [
      ['status=sleeping', 'status'],
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['cursor=bm9wZQ', 'cursor'],
      ['colour=red', 'colour'],
    ]) {
      const res = await h.call('viewer', { method: 'GET', url: `/v1/instances?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().errors.map((e: { field: string }) => e.field), query).toContain(field);
    }
  });
});

describe('GET /v1/plans', () => {
  it('lists the seeded plans', async () => {
    const res = await h.call('viewer', { method: 'GET', url: '/v1/plans' });
    expect(res.statusCode).toBe(200);
    // Tests may add plans of their own (`test-…`) for the time they run.
    expect(res.json().items.map((p: { name: string }) => p.name).filter((n: string) => !n.startsWith('test-'))).toEqual(['starter', 'standard', 'pro']);
  });
});

describe('a workflow that fails to start', () => {
  it('leaves neither instance nor operation behind', async () => {
    // Temporal refuses task queue names this long outright: a start failure that is not a conflict.
    const app = await build({ config: { ...h.config, taskQueue: 'q'.repeat(2000) }, db: h.db, temporal: h.temporal });
    try {
      const slug = h.slug('nostart');
      const res = await app.inject({
        method: 'POST',
        url: '/v1/instances',
        headers: { authorization: `Bearer ${h.keys.operator}`, 'idempotency-key': slug },
        payload: { name: 'No start', slug, plan: 'starter', ownerEmail: owner },
      });
      expect(res.statusCode).toBe(500);
      expect(await findInstance(h.db, slug)).toBeUndefined();
      // The key was released with the failure, so the same request may be retried.
      const retry = await h.call('operator', {
        method: 'POST',
        url: '/v1/instances',
        headers: { 'idempotency-key': slug },
        payload: { name: 'No start', slug, plan: 'starter', ownerEmail: owner },
      });
      expect(retry.statusCode).toBe(202);
    } finally {
      await app.close();
    }
  });
});

describe('5xx', () => {
  it('hides the details', async () => {
    // A catalogue nobody listens on: every query fails inside the handler.
    const broken = connectCatalogue('postgres://nobody@127.0.0.1:1/none', { max: 1 });
    const app = await build({ config: h.config, db: broken, temporal: h.temporal });
    try {
      const res = await app.inject({ method: 'GET', url: '/v1/plans', headers: { authorization: `Bearer ${h.config.adminKey}` } });
      expect(res.statusCode).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toEqual({ type: expect.any(String), title: 'Internal server error', status: 500, instance: '/v1/plans' });
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().detail).toMatch(/catalogue/);
    } finally {
      await app.close();
      await broken.$client.end();
    }
  });
});
