import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogueActivities } from '../../activities/catalogue';
import type { Database } from '../../db/client';
import { connectCatalogue } from '../../db/client';
import { newId } from '../../db/ids';
import { listPlans } from '../../db/plans';
import { findInstance, listInstances, markInstance, runningOperation, slugFromNameFree } from '../../db/instances';
import { finishOperation, getOperation, insertInstanceWithOperation, insertOperationIfAllowed, listOperations } from '../../db/operations';
import { listEvents } from '../../db/events';
import { claimIdempotency, completeIdempotency, type IdempotencyClaim, releaseIdempotency } from '../../db/idempotency';
import { migrateCatalogue } from '../../db/migrate';
import { connectTemporalClient } from '../../temporal/data-converter';
import { newCatalogueInstance } from '../support/catalogue-rows';
import { testConfig, uniqueSuffix } from '../support/config';

const config = testConfig();
let db: Database;
let connection: Connection;
let temporal: Client;

beforeAll(async () => {
  // Twice at once, as two test files (or two deploys) may: the advisory lock serialises them.
  await Promise.all([migrateCatalogue(config.databaseUrl), migrateCatalogue(config.databaseUrl)]);
  db = connectCatalogue(config.databaseUrl, { max: 2 });
  ({ client: temporal, connection } = await connectTemporalClient(config));
});

afterAll(async () => {
  await db?.$client.end();
  await connection?.close();
});

const newInstance = () => newCatalogueInstance(db, 'db');

describe('migrations', () => {
  it('are idempotent and seed the three plans', async () => {
    const backups = (everyHours: number, keepCount: number) => ({ backupEveryHours: everyHours, backupKeepCount: keepCount, backupKeepDays: 30, backupPricePerGbMonthCents: 10 });
    await migrateCatalogue(config.databaseUrl);
    // Tests may add plans of their own (`test-…`) for the time they run.
    const plans = (await listPlans(db)).filter((p) => !p.name.startsWith('test-'));
    expect(plans).toEqual([
      { name: 'starter', cpu: '1', memory: '2Gi', pods: 10, replicas: 1, pricePerHourCents: 5, suspendedPricePerHourCents: 1, dbConnections: 5, ...backups(24, 7) },
      { name: 'standard', cpu: '2', memory: '4Gi', pods: 20, replicas: 2, pricePerHourCents: 15, suspendedPricePerHourCents: 2, dbConnections: 10, ...backups(12, 14) },
      { name: 'pro', cpu: '4', memory: '8Gi', pods: 40, replicas: 3, pricePerHourCents: 40, suspendedPricePerHourCents: 4, dbConnections: 20, ...backups(6, 28) },
    ]);
  });
});

describe('ids', () => {
  it('are prefixed and sort by creation time', async () => {
    const first = newId('op');
    await new Promise((r) => setTimeout(r, 2));
    const second = newId('op');
    expect(first).toMatch(/^op_[0-9a-z]{26}$/);
    expect(first < second).toBe(true);
  });
});

describe('catalogue activities', () => {
  const activities = () => createCatalogueActivities({ db, config, temporal });

  it('markInstance sets status, version and updatedAt', async () => {
    const { slug, instanceId } = await newInstance();
    const before = (await findInstance(db, slug))!.instance;
    await activities().markInstance(instanceId, { status: 'ready', version: '2.0.0' });
    const after = (await findInstance(db, instanceId))!.instance;
    expect(after.status).toBe('ready');
    expect(after.version).toBe('2.0.0');
    expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
    await activities().markInstance(instanceId, { status: 'suspended' });
    expect((await findInstance(db, slug))!.instance).toMatchObject({ status: 'suspended', version: '2.0.0' });
  });

  it('finishOperation is idempotent and keeps the first end time', async () => {
    const { operationId, instanceId } = await newInstance();
    const result = { status: 'succeeded' as const, steps: [{ name: 'create namespace', status: 'done' as const, attempt: 1 }] };
    await activities().finishOperation(operationId, result);
    const first = (await getOperation(db, operationId))!;
    await activities().finishOperation(operationId, result);
    const second = (await getOperation(db, operationId))!;
    expect(first).toMatchObject({ status: 'succeeded', steps: result.steps, error: null });
    expect(second.endedAt).toEqual(first.endedAt);
    expect(await runningOperation(db, instanceId)).toBeUndefined();
  });

  it('a write that finds no row fails the step for good, naming the row', async () => {
    const missing = async (write: Promise<unknown>) => {
      const err = await write.then(() => undefined, (e: unknown) => e as { type?: string; nonRetryable?: boolean; message: string });
      expect(err).toMatchObject({ type: 'CatalogueRowMissing', nonRetryable: true });
      return err!.message;
    };
    expect(await missing(activities().markInstance('ins_00000000000000000000000000', { status: 'ready' }))).toContain('instance ins_00000000000000000000000000');
    expect(await missing(activities().finishOperation('op_00000000000000000000000000', { status: 'succeeded', steps: [] }))).toContain(
      'operation op_00000000000000000000000000',
    );
  });

  it('claimInstance moves the instance only from the status the request saw, and fails for good when it moved', async () => {
    const { instanceId, operationId } = await newInstance();
    await activities().claimInstance({ instanceId, operationId, from: 'provisioning', to: 'upgrading' });
    await activities().claimInstance({ instanceId, operationId, from: 'provisioning', to: 'upgrading' }); // a retry
    const moved = await activities()
      .claimInstance({ instanceId, operationId: newId('op'), from: 'ready', to: 'suspending' })
      .then(() => undefined, (e: unknown) => e as { type?: string; nonRetryable?: boolean; message: string });
    expect(moved).toMatchObject({ type: 'InstanceMoved', nonRetryable: true, message: expect.stringContaining('is upgrading, no longer ready') });
    expect((await findInstance(db, instanceId))!.instance.status).toBe('upgrading');
  });

  it('recordEvent writes a retried event once', async () => {
    const { instanceId, operationId } = await newInstance();
    const event = { instanceId, operationId, actor: 'alice', action: 'provision', outcome: 'succeeded', message: 'ready' };
    await activities().recordEvent(event);
    await activities().recordEvent(event);
    await activities().recordEvent({ ...event, outcome: 'failed' });
    const events = (await listEvents(db, instanceId, { limit: 100 })).items;
    expect(events.map((e) => [e.action, e.outcome, e.actor])).toEqual([
      ['provision', 'succeeded', 'alice'],
      ['provision', 'failed', 'alice'],
    ]);
  });
});

describe('instances', () => {
  it('derives a free slug from a name, suffixing collisions', async () => {
    const name = `Acme ${uniqueSuffix()}`;
    const first = await slugFromNameFree(db, name);
    const instanceId = newId('ins');
    await insertInstanceWithOperation(
      db,
      { id: instanceId, slug: first, name, plan: 'starter', version: '1', ownerEmail: 'o@example.com' },
      { id: newId('op'), instanceId, kind: 'provision', workflowId: `instance:${first}`, actor: 'test' },
    );
    expect(await slugFromNameFree(db, name)).toBe(`${first}-2`);
  });

  it('rejects a second instance with the same slug', async () => {
    const { slug } = await newInstance();
    const instanceId = newId('ins');
    await expect(
      insertInstanceWithOperation(
        db,
        { id: instanceId, slug, name: 'again', plan: 'starter', version: '1', ownerEmail: 'o@example.com' },
        { id: newId('op'), instanceId, kind: 'provision', workflowId: `instance:${slug}`, actor: 'test' },
      ),
    ).rejects.toThrow();
    // The transaction left nothing behind.
    expect(await findInstance(db, instanceId)).toBeUndefined();
  });

  it('filters on the status shown, which a running operation decides', async () => {
    const { instanceId } = await newInstance();
    await markInstance(db, instanceId, { status: 'ready' });
    // One running operation per instance: the provision's row must end before an upgrade's is admitted.
    const provisionRow = (await listOperations(db, instanceId, { limit: 100 })).items.at(-1)!;
    const refused = await insertOperationIfAllowed(
      db,
      { id: newId('op'), instanceId, kind: 'upgrade', workflowId: 'x', actor: 'test' },
      () => undefined,
    );
    expect(refused).toEqual({ running: expect.objectContaining({ id: provisionRow.id }) });
    await finishOperation(db, provisionRow.id, { status: 'succeeded', steps: [] });
    const inserted = await insertOperationIfAllowed(
      db,
      { id: newId('op'), instanceId, kind: 'upgrade', workflowId: 'x', actor: 'test' },
      () => undefined,
    );
    if (!('operation' in inserted)) throw new Error(`upgrade row not admitted: ${JSON.stringify(inserted)}`);
    const upgrading = inserted.operation;
    const all = async (status: 'upgrading' | 'ready') => {
      const ids: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await listInstances(db, { status, limit: 100, after });
        ids.push(...page.items.map((i) => i.instance.id));
        if (!page.more) return ids;
        after = page.items.at(-1)!.instance.id;
      }
    };
    expect(await all('upgrading')).toContain(instanceId);
    expect(await all('ready')).not.toContain(instanceId);
    await finishOperation(db, upgrading.id, { status: 'succeeded', steps: [] });
    expect(await all('ready')).toContain(instanceId);
  });
});

describe('idempotency records', () => {
  const times = { leaseSeconds: 60, ttlHours: 24 };
  const claim = (apiKeyId: string, key: string, hash: string) => claimIdempotency(db, apiKeyId, key, hash, times);
  const response = { status: 202, body: { ok: true }, headers: { location: '/x' } };
  /** Moves a record's creation back in time, as if it had been made that long ago. */
  const age = (apiKeyId: string, key: string, interval: string) =>
    db.$client`update idempotency_records set created_at = created_at - ${interval}::interval
      where api_key_id = ${apiKeyId} and key = ${key}`;
  const tokenOf = (c: IdempotencyClaim) => {
    if (!c.owned) throw new Error(`expected to own the key, found ${JSON.stringify(c.record)}`);
    return c.token;
  };

  it('hands a key to one request and shows the others what it left', async () => {
    const key = `k-${uniqueSuffix()}`;
    const a = tokenOf(await claim('key_a', key, 'h1'));
    expect(await claim('key_a', key, 'h1')).toMatchObject({ owned: false, record: { requestHash: 'h1', responseStatus: null } });
    // Scoped by API key: another caller's same key is its own.
    const b = tokenOf(await claim('key_b', key, 'h2'));
    expect(await completeIdempotency(db, 'key_a', key, a, response)).toBe(true);
    expect(await claim('key_a', key, 'h1')).toMatchObject({
      owned: false,
      record: { responseStatus: 202, responseBody: { ok: true }, responseHeaders: { location: '/x' } },
    });
    // A released claim (the request failed) frees the key; a completed one is never released.
    await releaseIdempotency(db, 'key_b', key, b);
    tokenOf(await claim('key_b', key, 'h3'));
    await releaseIdempotency(db, 'key_a', key, a);
    expect(await claim('key_a', key, 'h1')).toMatchObject({ owned: false, record: { responseStatus: 202 } });
  });

  it('lets the same request take over a claim older than the lease, and fences off the old owner', async () => {
    const key = `k-${uniqueSuffix()}`;
    const stale = tokenOf(await claim('key_a', key, 'h1'));
    await age('key_a', key, '59 seconds');
    expect(await claim('key_a', key, 'h1')).toMatchObject({ owned: false });
    await age('key_a', key, '2 seconds');
    // Another request never takes over, however old the claim.
    expect(await claim('key_a', key, 'h2')).toMatchObject({ owned: false, record: { requestHash: 'h1' } });
    const fresh = tokenOf(await claim('key_a', key, 'h1'));
    expect(fresh).not.toBe(stale);

    // The first owner wakes up: its completion and release no longer touch the record.
    expect(await completeIdempotency(db, 'key_a', key, stale, { ...response, status: 500 })).toBe(false);
    await releaseIdempotency(db, 'key_a', key, stale);
    expect(await completeIdempotency(db, 'key_a', key, fresh, response)).toBe(true);
    expect(await claim('key_a', key, 'h1')).toMatchObject({ owned: false, record: { responseStatus: 202 } });
  });

  it('forgets records older than the TTL, and deletes expired records of other keys on the way', async () => {
    const key = `k-${uniqueSuffix()}`;
    const other = `k-${uniqueSuffix()}`;
    await completeIdempotency(db, 'key_a', key, tokenOf(await claim('key_a', key, 'h1')), response);
    await completeIdempotency(db, 'key_a', other, tokenOf(await claim('key_a', other, 'h1')), response);
    await age('key_a', key, '25 hours');
    await age('key_a', other, '25 hours');

    // Expired: as if absent, for any request.
    tokenOf(await claim('key_a', key, 'h2'));
    expect(await db.$client`select 1 from idempotency_records where api_key_id = 'key_a' and key = ${other}`).toEqual([]);
  });
});
