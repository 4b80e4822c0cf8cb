// The catalogue's side of metering: status histories, the usage ledger, storage samples and the
// metering cursor. Computation is domain/metering.ts; this file only reads and writes rows.
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import { databaseNameFor, type InstanceStatus } from '../domain/instance';
import { HOUR_MS, hourOf, runningStatuses, suspendedStatuses, timeUsage, type Meter, type StatusChange } from '../domain/metering';
import type { Database } from './client';
import { backups, instances, instanceStatusChanges, meteringCursors, storageSamples, usageLedger } from './schema';

/**
 * Status histories of every instance (or one) as far as they matter for [from, to): the last
 * change before `from` (the state at `from`) and every change inside, in time order.
 */
export async function statusHistories(db: Database, from: Date, to: Date, instanceId?: string): Promise<Map<string, StatusChange[]>> {
  const h = instanceStatusChanges;
  const only = instanceId ? sql`and instance_id = ${instanceId}` : sql``;
  const rows = await db.execute<{ instance_id: string; status: InstanceStatus; plan: string; at: string }>(sql`
    select id, instance_id, status, plan, at from (
      select distinct on (instance_id) id, instance_id, status, plan, at from ${h}
      where at < ${from.toISOString()} ${only}
      order by instance_id, at desc, id desc) before
    where status not in ('deleted')
    union all
    select id, instance_id, status, plan, at from ${h}
    where at >= ${from.toISOString()} and at < ${to.toISOString()} ${only}
    order by instance_id, at, id`);
  const histories = new Map<string, StatusChange[]>();
  for (const row of rows) {
    const list = histories.get(row.instance_id) ?? [];
    list.push({ status: row.status, plan: row.plan, at: new Date(row.at) });
    histories.set(row.instance_id, list);
  }
  return histories;
}

export interface LedgerRow {
  instanceId: string;
  meter: Meter;
  plan: string;
  hour: Date;
  quantity: number;
}

/**
 * Every ledger row one closed hour gets: seconds per billed meter and plan, the largest database
 * size sampled, and the bytes of the backups kept during the hour.
 */
export async function hourRows(db: Database, hour: Date): Promise<LedgerRow[]> {
  const end = new Date(hour.getTime() + HOUR_MS);
  const rows: LedgerRow[] = [];
  for (const [instanceId, history] of await statusHistories(db, hour, end)) {
    for (const u of timeUsage(history, hour, end)) rows.push({ instanceId, meter: u.meter, plan: u.plan, hour, quantity: u.seconds });
  }
  const samples = await db.select().from(storageSamples).where(eq(storageSamples.hour, hour));
  for (const s of samples) rows.push({ instanceId: s.instanceId, meter: 'db_storage_bytes', plan: s.plan, hour, quantity: s.bytes });
  for (const b of await backupStorage(db, hour, end)) rows.push({ instanceId: b.instanceId, meter: 'backup_storage_bytes', plan: b.plan, hour, quantity: b.bytes });
  return rows;
}

/**
 * Backup storage per instance and hour in [from, to): the bytes of the backups that existed during
 * the hour — completed before its end (or before `to`, for an hour still under way) and not
 * expired before its start — on the plan the instance had at that end. A row's objects are
 * removed before it is marked expired, so an hour is never billed for less than was kept. Hours
 * without backup bytes have no row. A pure function of the catalogue: closing an hour again
 * gives the same rows.
 */
export async function backupStorage(
  db: Database,
  from: Date,
  to: Date,
  instanceId?: string,
): Promise<{ instanceId: string; hour: Date; plan: string; bytes: number }[]> {
  if (to <= from) return [];
  const first = hourOf(from).toISOString();
  const last = hourOf(new Date(to.getTime() - 1)).toISOString();
  const only = instanceId ? sql`and ${backups.instanceId} = ${instanceId}` : sql``;
  const rows = await db.execute<{ instance_id: string; hour: string; plan: string; bytes: string }>(sql`
    with kept as (
      select ${backups.instanceId} as instance_id, h.hour, sum(${backups.sizeBytes}) as bytes
      from generate_series(${first}::timestamptz, ${last}::timestamptz, interval '1 hour') as h(hour)
      join ${backups}
        on ${backups.completedAt} < least(h.hour + interval '1 hour', ${to.toISOString()}::timestamptz)
       and (${backups.expiredAt} is null or ${backups.expiredAt} >= h.hour)
      where ${backups.completedAt} is not null ${only}
      group by 1, 2
      having sum(${backups.sizeBytes}) > 0)
    select kept.instance_id, kept.hour, kept.bytes::text as bytes, coalesce(at_end.plan, ${instances.plan}) as plan
    from kept
    join ${instances} on ${instances.id} = kept.instance_id
    left join lateral (
      select ${instanceStatusChanges.plan} as plan from ${instanceStatusChanges}
      where ${instanceStatusChanges.instanceId} = kept.instance_id
        and ${instanceStatusChanges.at} < least(kept.hour + interval '1 hour', ${to.toISOString()}::timestamptz)
      order by ${instanceStatusChanges.at} desc, ${instanceStatusChanges.id} desc
      limit 1) at_end on true
    order by kept.instance_id, kept.hour`);
  return rows.map((r) => ({ instanceId: r.instance_id, hour: new Date(r.hour), plan: r.plan, bytes: Number(r.bytes) }));
}

/** Inserts at most this many ledger rows per statement (Postgres caps the parameters of one). */
const LEDGER_BATCH = 1_000;

/**
 * Closes `hour`: writes its ledger rows and moves the cursor past it, in one transaction. Rows
 * already in the ledger stay as they are (insert … on conflict do nothing), so metering an hour
 * again changes nothing. Returns how many rows were new.
 */
export async function meterHour(db: Database, cursor: string, hour: Date): Promise<number> {
  const rows = await hourRows(db, hour);
  return db.transaction(async (tx) => {
    let inserted = 0;
    for (let i = 0; i < rows.length; i += LEDGER_BATCH) {
      const written = await tx
        .insert(usageLedger)
        .values(rows.slice(i, i + LEDGER_BATCH))
        .onConflictDoNothing()
        .returning({ hour: usageLedger.hour });
      inserted += written.length;
    }
    const next = new Date(hour.getTime() + HOUR_MS);
    await tx
      .insert(meteringCursors)
      .values({ name: cursor, nextHour: next })
      .onConflictDoUpdate({ target: meteringCursors.name, set: { nextHour: sql`greatest(${meteringCursors.nextHour}, ${next.toISOString()})` } });
    return inserted;
  });
}

/** The first hour `cursor` has not metered; a new cursor starts at the oldest status change (or now). */
export async function firstUnmeteredHour(db: Database, cursor: string): Promise<Date> {
  const [row] = await db.select().from(meteringCursors).where(eq(meteringCursors.name, cursor));
  if (row) return row.nextHour;
  const [oldest] = await db.select({ at: instanceStatusChanges.at }).from(instanceStatusChanges).orderBy(asc(instanceStatusChanges.at)).limit(1);
  return hourOf(oldest?.at ?? new Date());
}

/** Sets where a cursor stands (a new deployment that must not bill the past, tests). */
export async function setMeteringCursor(db: Database, cursor: string, nextHour: Date): Promise<void> {
  await db
    .insert(meteringCursors)
    .values({ name: cursor, nextHour: hourOf(nextHour) })
    .onConflictDoUpdate({ target: meteringCursors.name, set: { nextHour: hourOf(nextHour) } });
}

/** Hours that have ended and `cursor` has not metered, oldest first, at most `limit`. */
export async function hoursToMeter(db: Database, cursor: string, limit: number, now = new Date()): Promise<{ hours: Date[]; more: boolean }> {
  const first = (await firstUnmeteredHour(db, cursor)).getTime();
  const hours: Date[] = [];
  for (let h = first; h + HOUR_MS <= now.getTime() && hours.length <= limit; h += HOUR_MS) hours.push(new Date(h));
  return { hours: hours.slice(0, limit), more: hours.length > limit };
}

/** Instances whose tenant database exists and is billed: the ones storage is sampled for. */
export async function instancesToSample(db: Database): Promise<{ id: string; plan: string; database: string }[]> {
  const rows = await db
    .select({ id: instances.id, slug: instances.slug, plan: instances.plan })
    .from(instances)
    .where(sql`${instances.status} in ${[...runningStatuses, ...suspendedStatuses]}`);
  return rows.map((r) => ({ id: r.id, plan: r.plan, database: databaseNameFor(r.slug) }));
}

/** Records database sizes sampled now; an hour keeps its largest sample. */
export async function recordStorageSamples(db: Database, samples: { instanceId: string; plan: string; bytes: number }[], at = new Date()): Promise<void> {
  if (samples.length === 0) return;
  const hour = hourOf(at);
  await db
    .insert(storageSamples)
    .values(samples.map((s) => ({ ...s, hour })))
    .onConflictDoUpdate({
      target: [storageSamples.instanceId, storageSamples.hour],
      set: { bytes: sql`greatest(${storageSamples.bytes}, excluded.bytes)`, plan: sql`excluded.plan` },
    });
}

/** Ledger rows of one instance for hours in [from, to). */
export async function ledgerRows(db: Database, instanceId: string, from: Date, to: Date): Promise<LedgerRow[]> {
  const rows = await db
    .select()
    .from(usageLedger)
    .where(and(eq(usageLedger.instanceId, instanceId), gte(usageLedger.hour, from), lt(usageLedger.hour, to)))
    .orderBy(asc(usageLedger.hour));
  return rows.map((r) => ({ instanceId: r.instanceId, meter: r.meter, plan: r.plan, hour: r.hour, quantity: r.quantity }));
}

/** The largest database size sampled for an instance in [from, to) that is not in the ledger yet. */
export async function sampledStorage(db: Database, instanceId: string, from: Date, to: Date): Promise<{ plan: string; bytes: number }[]> {
  return db
    .select({ plan: storageSamples.plan, bytes: storageSamples.bytes })
    .from(storageSamples)
    .where(and(eq(storageSamples.instanceId, instanceId), gte(storageSamples.hour, from), lt(storageSamples.hour, to)));
}
