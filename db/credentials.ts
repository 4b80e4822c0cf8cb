// When each instance's credentials were last set (instances.credentials_rotated_at: a provision
// sets it, a credential rotation that succeeded sets it again), and which instances the
// `shipyard-rotate-credentials` schedule finds due.
import { eq, sql } from 'drizzle-orm';
import type { Database } from './client';
import { instances, operations } from './schema';

/** The actor of the rotations the schedule starts (the audit trail and the sweep's own bookkeeping). */
export const credentialRotationActor = 'credential-rotation';

/** Records that the instance's credentials were just rotated; false when there is no such row. */
export async function markCredentialsRotated(db: Database, instanceId: string): Promise<boolean> {
  const rows = await db
    .update(instances)
    .set({ credentialsRotatedAt: sql`now()` })
    .where(eq(instances.id, instanceId))
    .returning({ id: instances.id });
  return rows.length > 0;
}

/**
 * Instances due for a rotation, in id order after `after`: `ready` or `suspended`, no operation
 * running, credentials set at least `olderThanDays` days ago (by the catalogue's clock).
 */
export async function instancesDueForRotation(
  db: Database,
  page: { olderThanDays: number; after?: string; limit: number; plans?: readonly string[]; instanceId?: string },
): Promise<{ id: string; slug: string }[]> {
  const rows = await db.execute<{ id: string; slug: string }>(sql`
    select ${instances.id} as id, ${instances.slug} as slug
    from ${instances}
    where ${instances.status} in ('ready', 'suspended')
      and ${instances.credentialsRotatedAt} <= now() - make_interval(days => ${page.olderThanDays})
      ${page.plans ? sql`and ${instances.plan} in ${page.plans.length ? page.plans : ['']}` : sql``}
      ${page.after ? sql`and ${instances.id} > ${page.after}` : sql``}
      ${page.instanceId ? sql`and ${instances.id} = ${page.instanceId}` : sql``}
      and not exists (select 1 from ${operations} where ${operations.instanceId} = ${instances.id} and ${operations.status} = 'running')
    order by ${instances.id}
    limit ${page.limit}`);
  return rows.map((r) => ({ id: r.id, slug: r.slug }));
}

