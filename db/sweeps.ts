// Health sweeps and what they record: the instances a sweep checks, each check's verdict on the
// instance, the heals counted against its budget, and the sweep's own row.
import { and, asc, desc, eq, gt, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import type { Health, HealthCheck, OfflineCluster, SweepTotals } from '../domain/health';
import type { Database } from './client';
import { newId } from './ids';
import { events, healthSweeps, instances, operations } from './schema';

export type SweepRow = typeof healthSweeps.$inferSelect;

/** Instances a sweep checks: `ready` or `suspended` with no operation running, in id order after `after`; with their cluster (null: unplaced). */
export async function instancesToCheck(db: Database, after: string | undefined, limit: number): Promise<{ id: string; cluster: string | null }[]> {
  return db
    .select({ id: instances.id, cluster: instances.cluster })
    .from(instances)
    .where(
      and(
        inArray(instances.status, ['ready', 'suspended']),
        sql`${instances.id} not in (select ${operations.instanceId} from ${operations} where ${operations.status} = 'running')`,
        after ? gt(instances.id, after) : undefined,
      ),
    )
    .orderBy(asc(instances.id))
    .limit(limit);
}

/** Stores a check's verdict; returns the health the instance had before it. */
export async function recordHealth(db: Database, instanceId: string, health: Health, checks: HealthCheck[]): Promise<Health | undefined> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select({ health: instances.health }).from(instances).where(eq(instances.id, instanceId)).for('update');
    if (!before) return undefined;
    await tx.update(instances).set({ health, healthChecks: checks, healthCheckedAt: new Date() }).where(eq(instances.id, instanceId));
    return before.health;
  });
}

/** Heals recorded for an instance since `since` (the heal budget's window). */
export async function healsSince(db: Database, instanceId: string, since: Date): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(events)
    .where(and(eq(events.instanceId, instanceId), eq(events.actor, 'health-sweep'), eq(events.action, 'heal'), gt(events.at, since)));
  return row?.n ?? 0;
}

/** The sweep run by `workflowId`, recorded now if it is new. */
export async function openSweep(db: Database, workflowId: string, id = newId('swp')): Promise<SweepRow> {
  await db.insert(healthSweeps).values({ id, workflowId }).onConflictDoNothing({ target: healthSweeps.workflowId });
  const [row] = await db.select().from(healthSweeps).where(eq(healthSweeps.workflowId, workflowId));
  return row!;
}

/** Where a sweep stands: its totals, and the clusters found offline as of its latest look (it looks again at every page). */
export type SweepProgress = SweepTotals & { offlineClusters: OfflineCluster[] };

export async function closeSweep(db: Database, id: string, status: 'succeeded' | 'failed', progress: SweepProgress): Promise<void> {
  await db
    .update(healthSweeps)
    .set({ status, ...progress, endedAt: sql`coalesce(${healthSweeps.endedAt}, now())` })
    .where(eq(healthSweeps.id, id));
}

/** Where the sweep stands, while it runs. */
export async function updateSweepProgress(db: Database, id: string, progress: SweepProgress): Promise<void> {
  await db.update(healthSweeps).set(progress).where(eq(healthSweeps.id, id));
}

export async function recordSweepOrphans(db: Database, id: string, orphans: NonNullable<SweepRow['orphans']>): Promise<void> {
  await db.update(healthSweeps).set({ orphans }).where(eq(healthSweeps.id, id));
}

/** The newest sweep that looked for orphans. */
export async function lastOrphanSweep(db: Database): Promise<SweepRow | undefined> {
  const [row] = await db.select().from(healthSweeps).where(isNotNull(healthSweeps.orphans)).orderBy(desc(healthSweeps.id)).limit(1);
  return row;
}

export async function getSweep(db: Database, id: string): Promise<SweepRow | undefined> {
  const [row] = await db.select().from(healthSweeps).where(eq(healthSweeps.id, id));
  return row;
}

/** A page of sweeps, newest first; `after` is the last id of the previous page. */
export async function listSweeps(db: Database, page: { limit: number; after?: string }): Promise<{ items: SweepRow[]; more: boolean }> {
  const rows = await db
    .select()
    .from(healthSweeps)
    .where(page.after ? lt(healthSweeps.id, page.after) : undefined)
    .orderBy(desc(healthSweeps.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}
