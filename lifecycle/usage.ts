// What an instance has used in a period: the ledger's closed hours plus, for the hours the
// metering schedule has not closed yet (the current one, or more after downtime), the same
// computation done live from the status history. A customer sees the bill grow as it will be
// invoiced, to the second, without waiting for the next metering pass.
import type { Config } from '../domain/config';
import { lineAmountCents, unitPriceCents } from '../domain/invoices';
import { hourOf, timeUsage, type Meter } from '../domain/metering';
import type { Database } from '../db/client';
import { listPlans } from '../db/plans';
import type { InstanceRow } from '../db/instances';
import * as metering from '../db/metering';
import { meteringScheduleId } from '../domain/schedules';

export interface UsageLine {
  meter: Meter;
  plan: string;
  /** Seconds (time meters), the largest size sampled (db_storage_bytes), or the bytes kept summed over the hours (backup_storage_bytes). */
  quantity: number;
  unit: 'seconds' | 'bytes' | 'byte-hours';
  /** Cents per hour for time meters; 0 for storage (database storage is measured, not priced; backups are priced per GB-month). */
  pricePerHourCents: number;
  /** Backup storage only: cents per GB (10⁹ bytes) kept for a month of 730 hours, billed per hour. */
  pricePerGbMonthCents?: number;
  amountCents: number;
}

export interface UsageView {
  instanceId: string;
  from: string;
  to: string;
  /** Hours before this are read from the ledger; later ones are computed live. */
  meteredUntil: string;
  currency: string;
  lines: UsageLine[];
  totalCents: number;
}

/**
 * Usage of `instance` from the start of the hour holding `from` until `to`: time meters summed
 * per plan, database storage as the largest size sampled, backup storage as the bytes kept summed
 * over the hours (the hour under way counts what is kept by `to`). Amounts are rounded to the cent
 * per line.
 */
export async function usageOf(deps: { db: Database; config: Config }, instance: InstanceRow, from: Date, to: Date): Promise<UsageView> {
  const start = hourOf(from);
  const meteredUntil = await metering.firstUnmeteredHour(deps.db, meteringScheduleId(deps.config));
  // Closed hours come from the ledger up to the cursor (or up to `to`'s hour when it is earlier).
  const ledgerEnd = new Date(Math.max(start.getTime(), Math.min(meteredUntil.getTime(), hourOf(to).getTime())));
  const totals = new Map<string, { meter: Meter; plan: string; quantity: number }>();
  const add = (meter: Meter, plan: string, quantity: number) => {
    const key = `${meter}\u0000${plan}`;
    const entry = totals.get(key) ?? { meter, plan, quantity: 0 };
    entry.quantity = meter === 'db_storage_bytes' ? Math.max(entry.quantity, quantity) : entry.quantity + quantity;
    totals.set(key, entry);
  };
  for (const row of await metering.ledgerRows(deps.db, instance.id, start, ledgerEnd)) add(row.meter, row.plan, row.quantity);
  if (ledgerEnd < to) {
    const history = (await metering.statusHistories(deps.db, ledgerEnd, to, instance.id)).get(instance.id) ?? [];
    for (const u of timeUsage(history, ledgerEnd, to)) add(u.meter, u.plan, u.seconds);
    for (const s of await metering.sampledStorage(deps.db, instance.id, ledgerEnd, to)) add('db_storage_bytes', s.plan, s.bytes);
    for (const b of await metering.backupStorage(deps.db, ledgerEnd, to, instance.id)) add('backup_storage_bytes', b.plan, b.bytes);
  }
  const plans = new Map((await listPlans(deps.db)).map((p) => [p.name, p]));
  const lines = [...totals.values()]
    .sort((a, b) => (a.meter === b.meter ? a.plan.localeCompare(b.plan) : a.meter.localeCompare(b.meter)))
    .map(({ meter, plan, quantity }): UsageLine => {
      const prices = plans.get(plan);
      const pricePerHourCents = meter === 'running_seconds' || meter === 'suspended_seconds' ? unitPriceCents(meter, prices) : 0;
      const amountCents = lineAmountCents(meter, quantity, prices);
      if (meter === 'backup_storage_bytes') {
        return { meter, plan, quantity, unit: 'byte-hours', pricePerHourCents, pricePerGbMonthCents: unitPriceCents(meter, prices), amountCents };
      }
      return { meter, plan, quantity, unit: meter === 'db_storage_bytes' ? 'bytes' : 'seconds', pricePerHourCents, amountCents };
    });
  return {
    instanceId: instance.id,
    from: start.toISOString(),
    to: to.toISOString(),
    meteredUntil: meteredUntil.toISOString(),
    currency: deps.config.currency,
    lines,
    totalCents: lines.reduce((sum, l) => sum + l.amountCents, 0),
  };
}
