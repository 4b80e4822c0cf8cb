// GET /v1/instances/{idOrSlug}/usage and GET /v1/plans against the real catalogue: closed hours
// come from the ledger, later ones are computed live, and the two add up to the same seconds.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../db/ids';
import { insertInstanceWithOperation } from '../../db/operations';
import * as metering from '../../db/metering';
import { instanceStatusChanges } from '../../db/schema';
import { HOUR_MS, hourOf } from '../../domain/metering';
import { meteringScheduleId } from '../../domain/schedules';
import { startHarness, type Harness } from '../api/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('plans', () => {
  it('carry the suspended price, 10 % of the running one', async () => {
    const res = await h.call('viewer', { method: 'GET', url: '/v1/plans' });
    expect(res.statusCode).toBe(200);
    expect(res.json().items).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'pro', pricePerHourCents: 40, suspendedPricePerHourCents: 4 })]),
    );
  });
});

describe('usage', () => {
  it('adds ledger hours and live hours, priced per plan, for a viewer', async () => {
    const slug = h.slug('use');
    const instanceId = newId('ins');
    await insertInstanceWithOperation(
      h.db,
      { id: instanceId, slug, name: slug, plan: 'standard', version: '1.0.0', ownerEmail: 'o@example.com' },
      { id: newId('op'), instanceId, kind: 'provision', workflowId: `instance:${slug}`, actor: 'test' },
    );
    const start = new Date(hourOf(new Date()).getTime() - 5 * HOUR_MS);
    const t = (hours: number, minutes = 0) => new Date(start.getTime() + hours * HOUR_MS + minutes * 60_000);
    await h.db.delete(instanceStatusChanges).where(eq(instanceStatusChanges.instanceId, instanceId));
    await h.db.insert(instanceStatusChanges).values([
      { instanceId, status: 'ready', plan: 'standard', at: t(0, 30) },
      { instanceId, status: 'suspended', plan: 'standard', at: t(2) },
      { instanceId, status: 'deleting', plan: 'standard', at: t(3) },
      { instanceId, status: 'deleted', plan: 'standard', at: t(3, 1) },
    ]);
    // The metering schedule closed the first two hours; the rest is computed live.
    const cursor = meteringScheduleId(h.config);
    await metering.meterHour(h.db, cursor, t(0));
    await metering.meterHour(h.db, cursor, t(1));
    expect(await metering.firstUnmeteredHour(h.db, cursor)).toEqual(t(2));

    const res = await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}/usage?from=${start.toISOString()}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      instanceId,
      from: start.toISOString(),
      meteredUntil: t(2).toISOString(),
      currency: 'USD',
      lines: [
        { meter: 'running_seconds', plan: 'standard', quantity: 90 * 60, unit: 'seconds', pricePerHourCents: 15, amountCents: 23 },
        { meter: 'suspended_seconds', plan: 'standard', quantity: 3600, unit: 'seconds', pricePerHourCents: 2, amountCents: 2 },
      ],
      totalCents: 25,
    });
  });

  it('refuses a period that ends before it starts, and an unknown instance', async () => {
    const bad = await h.call('viewer', { method: 'GET', url: '/v1/instances/acme/usage?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([{ field: 'from', message: 'must be before to' }]);
    expect((await h.call('viewer', { method: 'GET', url: `/v1/instances/${h.slug('nope')}/usage` })).statusCode).toBe(404);
  });
});
