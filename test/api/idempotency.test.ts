// Idempotency-Key against real Postgres and Temporal: a claim left by a request that died is
// taken over after its lease, a record past its TTL is forgotten, and concurrent requests with
// one key start one operation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../api/auth';
import { requestHash } from '../../api/idempotency';
import { findInstance } from '../../db/instances';
import { listOperations } from '../../db/operations';
import { findLiveApiKeyByHash } from '../../db/api-keys';
import { claimIdempotency } from '../../db/idempotency';
import { type Harness, startHarness } from './harness';

let h: Harness;
let operatorKeyId: string;
beforeAll(async () => {
  h = await startHarness();
  operatorKeyId = (await findLiveApiKeyByHash(h.db, hashKey(h.keys.operator)))!.id;
});
afterAll(async () => {
  await h?.close();
});

const createBody = (slug: string) => ({ name: 'Idem', slug, plan: 'starter', ownerEmail: 'owner@example.com' });
const create = (body: Record<string, unknown>, key: string) =>
  h.call('operator', { method: 'POST', url: '/v1/instances', payload: body, headers: { 'idempotency-key': key } });

/** Moves a record's creation back in time, as if it had been made that long ago. */
const age = (key: string, interval: string) =>
  h.db.$client`update idempotency_records set created_at = created_at - ${interval}::interval
    where api_key_id = ${operatorKeyId} and key = ${key}`;

async function operationsOf(slug: string) {
  const found = await findInstance(h.db, slug);
  return found ? (await listOperations(h.db, found.instance.id, { limit: 100 })).items : [];
}

describe('Idempotency-Key', () => {
  it('lets a retry take over a claim whose request died, once the lease has run out', async () => {
    const slug = h.slug('lease');
    const key = `lease-${slug}`;
    const body = createBody(slug);
    // What a request leaves when it dies between claiming the key and answering.
    const times = { leaseSeconds: h.config.idempotencyLeaseSeconds, ttlHours: h.config.idempotencyTtlHours };
    const left = await claimIdempotency(h.db, operatorKeyId, key, requestHash('POST', '/v1/instances', body), times);
    expect(left.owned).toBe(true);

    const early = await create(body, key);
    expect(early.statusCode).toBe(409);
    expect(early.json().detail).toMatch(/still being handled/);
    expect(await operationsOf(slug)).toEqual([]);

    await age(key, `${h.config.idempotencyLeaseSeconds + 1} seconds`);
    const retry = await create(body, key);
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const replay = await create(body, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(retry.json());
    expect(await operationsOf(slug)).toHaveLength(1);
  });

  it('no longer replays a response older than the TTL', async () => {
    const slug = h.slug('ttl');
    const key = `ttl-${slug}`;
    expect((await create(createBody(slug), key)).statusCode).toBe(202);
    expect((await create(createBody(slug), key)).headers['idempotent-replayed']).toBe('true');

    await age(key, `${h.config.idempotencyTtlHours} hours 1 second`);
    // Forgotten: the request runs again, and the catalogue (not the key) now refuses the taken slug.
    const again = await create(createBody(slug), key);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.statusCode).toBe(409);
    expect(again.json().detail).toContain(slug);

    // An expired key may carry a different request, where a live one would be a 409.
    const reused = `ttl-reused-${slug}`;
    expect((await create(createBody(h.slug('ttl')), reused)).statusCode).toBe(202);
    await age(reused, `${h.config.idempotencyTtlHours} hours 1 second`);
    const different = await create(createBody(h.slug('ttl')), reused);
    expect(different.statusCode).toBe(202);
    expect(different.headers['idempotent-replayed']).toBeUndefined();
  });

  it('starts one operation for ten concurrent requests with one key', async () => {
    const slug = h.slug('race');
    const key = `race-${slug}`;
    const responses = await Promise.all(Array.from({ length: 10 }, () => create(createBody(slug), key)));

    const fresh = responses.filter((r) => r.statusCode === 202 && r.headers['idempotent-replayed'] === undefined);
    const replayed = responses.filter((r) => r.headers['idempotent-replayed'] === 'true');
    const busy = responses.filter((r) => r.statusCode === 409);
    expect(fresh).toHaveLength(1);
    expect(replayed.length + busy.length).toBe(9);
    for (const r of replayed) expect(r.json()).toEqual(fresh[0]!.json());
    for (const r of busy) expect(r.json().detail).toMatch(/still being handled/);
    expect(await operationsOf(slug)).toHaveLength(1);
  });
});
