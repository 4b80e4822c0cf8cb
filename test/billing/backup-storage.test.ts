// Backup storage, metered and billed: each closed hour records the bytes of the backups an instance
// kept during it (completed before its end, not expired before its start), on the plan in force;
// the invoice bills them on a line of their own at the plan's price per GB-month (10⁹ bytes, 730
// hours), pro rata per hour and rounded once; the usage endpoint shows the same, ledger plus live.
import { randomInt } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../db/ids';
import { draftInvoice, getInvoice, periodBounds } from '../../db/invoices';
import * as metering from '../../db/metering';
import { insertInstanceWithOperation } from '../../db/operations';
import { backups, plans, usageLedger } from '../../db/schema';
import { backupKeyPrefix } from '../../domain/backups';
import { HOUR_MS } from '../../domain/metering';
import { meteringScheduleId } from '../../domain/schedules';
import { startHarness, type Harness } from '../api/harness';
import { testPlan } from '../support/catalogue-rows';
import { uniqueSuffix } from '../support/config';

let h: Harness;
// A month of its own, so reruns of this file never meet each other's ledger rows or invoices (and
// in years the invoices file does not take: an owner of this file's would be a third on its invoices).
const period = `${1950 + randomInt(40)}-${String(1 + randomInt(12)).padStart(2, '0')}`;
const { start, end } = periodBounds(period);
const hours = (end.getTime() - start.getTime()) / HOUR_MS;
const at = (hour: number, minutes = 0) => new Date(start.getTime() + hour * HOUR_MS + minutes * 60_000);
const suffix = uniqueSuffix();
const plan = { ...testPlan(`test-bkp-price-${suffix}`, '1'), backupPricePerGbMonthCents: 73 };
const owner = `backups-${suffix}@example.com`;
let instanceId: string;

beforeAll(async () => {
  h = await startHarness();
  await h.db.insert(plans).values(plan);
  const slug = h.slug('bkp');
  instanceId = newId('ins');
  const operationId = newId('op');
  await insertInstanceWithOperation(
    h.db,
    { id: instanceId, slug, name: slug, plan: plan.name, version: '1.0.0', ownerEmail: owner },
    { id: operationId, instanceId, kind: 'provision', workflowId: `instance:${slug}`, actor: 'test' },
  );
  const row = (kind: 'manual' | 'scheduled' | 'final' | 'pre-restore', fields: Partial<typeof backups.$inferInsert>): typeof backups.$inferInsert => {
    const id = newId('bak');
    return {
      id, instanceId, operationId, kind, bucket: 'b', objectPrefix: backupKeyPrefix('backups/', instanceId, id), appVersion: '1.0.0', plan: plan.name, ...fields,
    };
  };
  await h.db.insert(backups).values([
    // 2 GB kept from 10:30 in hour 10 until 15 minutes into hour 375: hours 10 to 375, 366 of them.
    row('manual', { status: 'expired', sizeBytes: 2e9, completedAt: at(10, 30), expiredAt: at(375, 15) }),
    // 1 GB completed before the period and kept past its end: every hour of it. (Expired soon
    // after, so no later metering of the shared catalogue bills it again.)
    row('scheduled', { status: 'expired', sizeBytes: 1e9, completedAt: new Date(start.getTime() - 2 * 24 * HOUR_MS), expiredAt: new Date(end.getTime() + HOUR_MS) }),
    // A failed backup never completed: nothing kept.
    row('pre-restore', { status: 'failed', sizeBytes: 5e9 }),
    // Completed after the period: not in it.
    row('final', { status: 'expired', sizeBytes: 7e9, completedAt: new Date(end.getTime() + HOUR_MS), expiredAt: new Date(end.getTime() + 2 * HOUR_MS) }),
  ]);
  // The deployment's metering closed the first 400 hours; another cursor closed the rest of the
  // period (the ledger is one), so the usage endpoint reads 400 hours from the ledger and computes
  // the others live.
  for (let n = 0; n < hours; n++) await metering.meterHour(h.db, n < 400 ? meteringScheduleId(h.config) : `test-${suffix}`, at(n));
});
afterAll(async () => {
  // The catalogue is shared: rows of a past month left behind would land on another file's invoices.
  if (h && instanceId) {
    await h.db.delete(usageLedger).where(eq(usageLedger.instanceId, instanceId));
    await h.db.delete(backups).where(eq(backups.instanceId, instanceId));
  }
  await h?.close();
});

const byteHours = 2e9 * 366 + 1e9 * hours;
// byteHours × 73 / (10⁹ × 730), rounded half up: (732 + hours) / 10.
const expectedCents = Math.floor((732 + hours + 5) / 10);

describe('backup storage', () => {
  it('is in the ledger for each hour the backups were kept, as their bytes', async () => {
    const rows = (await metering.ledgerRows(h.db, instanceId, start, end)).filter((r) => r.meter === 'backup_storage_bytes');
    expect(rows).toHaveLength(hours);
    const byHour = new Map(rows.map((r) => [r.hour.getTime(), r]));
    expect(byHour.get(at(9).getTime())).toMatchObject({ plan: plan.name, quantity: 1e9 });
    expect(byHour.get(at(10).getTime())).toMatchObject({ plan: plan.name, quantity: 3e9 });
    expect(byHour.get(at(375).getTime())).toMatchObject({ plan: plan.name, quantity: 3e9 });
    expect(byHour.get(at(376).getTime())).toMatchObject({ plan: plan.name, quantity: 1e9 });
    expect(rows.reduce((sum, r) => sum + r.quantity, 0)).toBe(byteHours);
    // Closing an hour again changes nothing.
    expect(await metering.meterHour(h.db, `test-${suffix}`, at(10))).toBe(0);
  });

  it('is a line of its own on the invoice, at the price per GB-month pro rata per hour, rounded once', async () => {
    const id = await draftInvoice(h.db, owner, period, 'USD');
    expect(id).not.toBeNull();
    const { invoice, lines } = (await getInvoice(h.db, id!))!;
    expect(lines).toEqual([
      expect.objectContaining({
        kind: 'usage',
        instanceId,
        plan: plan.name,
        meter: 'backup_storage_bytes',
        seconds: byteHours,
        unitPriceCents: 73,
        amountCents: expectedCents,
      }),
    ]);
    expect(invoice.subtotalCents).toBe(expectedCents);
  });

  it('shows in the usage endpoint, the ledger hours and the live ones adding up to the same', async () => {
    const res = await h.call('viewer', { method: 'GET', url: `/v1/instances/${instanceId}/usage?from=${start.toISOString()}&to=${end.toISOString()}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      meteredUntil: at(400).toISOString(),
      lines: [{ meter: 'backup_storage_bytes', plan: plan.name, quantity: byteHours, unit: 'byte-hours', pricePerHourCents: 0, amountCents: expectedCents }],
      totalCents: expectedCents,
    });
  });
});
