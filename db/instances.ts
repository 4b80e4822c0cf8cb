// Instances: lookups, the listing and the status it filters on, and status writes with the status
// history they append to. Like every db/ module, plain functions over a Database that the API and
// the activities call directly.
import { and, type AnyColumn, asc, desc, eq, gt, ilike, inArray, or, sql, type SQL } from 'drizzle-orm';
import type { Scope } from '../domain/api-keys';
import type { Health } from '../domain/health';
import type { InstanceStatus } from '../domain/instance';
import { kindsThatMoveStatus, type OperationKind, shownStatus, statusWhileRunning } from '../domain/operation-kinds';
import { slugFromName } from '../domain/slugs';
import type { Database, Transaction } from './client';
import { clusters, instances, instanceStatusChanges, operations } from './schema';

// The row type is spelled out here rather than imported from operations.ts, which imports this module.
type OperationRow = typeof operations.$inferSelect;

export type InstanceRow = typeof instances.$inferSelect;

/** An instance row with the operation running on it, if the catalogue says one is. */
export interface InstanceWithOperation {
  instance: InstanceRow;
  running: OperationRow | undefined;
}

const instanceByIdOrSlug = (idOrSlug: string): SQL =>
  idOrSlug.startsWith('ins_') ? eq(instances.id, idOrSlug) : eq(instances.slug, idOrSlug);

/** The instances a caller's scope reaches: an owner's only, or all (undefined). */
export const instancesInScope = (scope: Scope): SQL | undefined =>
  scope.owner === undefined ? undefined : eq(instances.ownerEmail, scope.owner);

/** Rows (operations, backups) whose `instanceId` column names an instance in `scope`; undefined = all. */
export const ofInstancesInScope = (instanceId: AnyColumn, scope: Scope): SQL | undefined =>
  scope.owner === undefined
    ? undefined
    : sql`${instanceId} in (select ${instances.id} from ${instances} where ${instances.ownerEmail} = ${scope.owner})`;

/** An instance by id or slug; one outside `scope` is not found, exactly like one that does not exist. */
export async function findInstance(db: Database, idOrSlug: string, scope: Scope = {}): Promise<InstanceWithOperation | undefined> {
  // One round trip: an instance has at most one running operation (operations_one_running_per_instance),
  // so the join adds at most one row. Two queries made a read's catalogue time twice what it needs.
  const [found] = await db
    .select({ instance: instances, running: operations })
    .from(instances)
    .leftJoin(operations, and(eq(operations.instanceId, instances.id), eq(operations.status, 'running')))
    .where(and(instanceByIdOrSlug(idOrSlug), instancesInScope(scope)));
  if (!found) return undefined;
  return { instance: found.instance, running: found.running ?? undefined };
}

// The operation an instance is shown with. Here, not in operations.ts, because that module builds
// on this one (its writes append to the status history), and the two should not import each other.
export async function runningOperation(db: Database, instanceId: string): Promise<OperationRow | undefined> {
  const [op] = await db
    .select()
    .from(operations)
    .where(and(eq(operations.instanceId, instanceId), eq(operations.status, 'running')))
    .orderBy(desc(operations.startedAt))
    .limit(1);
  return op;
}

export async function slugTaken(db: Database, slug: string): Promise<boolean> {
  const rows = await db.select({ id: instances.id }).from(instances).where(eq(instances.slug, slug));
  return rows.length > 0;
}

/** A free slug derived from a display name (domain rules, suffixed on collision). */
export async function slugFromNameFree(db: Database, name: string): Promise<string> {
  return slugFromName(name, (candidate) => slugTaken(db, candidate));
}

// The status shown for an instance is the one its running operation implies, else the stored
// one; listing filters on the same rule so a filter never disagrees with what it returns. Written
// as two index-backed sets (the status index; the partial index of running operations) rather than
// an expression per row, so a filtered page costs what its rows cost.
function shownStatusIs(status: InstanceStatus): SQL {
  const kinds = (Object.entries(statusWhileRunning) as [OperationKind, InstanceStatus][]).filter(([, s]) => s === status).map(([k]) => k);
  const runningIds = (onlyKinds?: OperationKind[]) =>
    sql`(select ${operations.instanceId} from ${operations} where ${operations.status} = 'running'${
      onlyKinds ? sql` and ${inArray(operations.kind, onlyKinds)}` : sql``
    })`;
  // An operation that keeps the instance's status (a backup) leaves it shown as stored.
  const settled = sql`(${instances.status} = ${status} and ${instances.id} not in ${runningIds([...kindsThatMoveStatus])})`;
  return kinds.length ? sql`(${settled} or ${instances.id} in ${runningIds(kinds)})` : settled;
}

/** What the instance list filters on; every part given must match. */
export interface InstanceFilter {
  status?: InstanceStatus;
  health?: Health;
  plan?: string;
  version?: string;
  /** Part of the slug or of the owner's email, in any case. */
  search?: string;
}

/** A case-insensitive substring match on slug or owner, the pattern's own wildcards taken literally. */
function searchedFor(text: string): SQL | undefined {
  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return or(ilike(instances.slug, pattern), ilike(instances.ownerEmail, pattern));
}

export async function listInstances(
  db: Database,
  query: InstanceFilter & { limit: number; after?: string },
  scope: Scope = {},
): Promise<{ items: InstanceWithOperation[]; more: boolean }> {
  const where = and(
    instancesInScope(scope),
    query.status ? shownStatusIs(query.status) : undefined,
    query.health ? eq(instances.health, query.health) : undefined,
    query.plan ? eq(instances.plan, query.plan) : undefined,
    query.version ? eq(instances.version, query.version) : undefined,
    query.search ? searchedFor(query.search) : undefined,
    query.after ? gt(instances.id, query.after) : undefined,
  );
  // One round trip, as in findInstance: at most one running operation joins each instance.
  const rows = await db
    .select({ instance: instances, running: operations })
    .from(instances)
    .leftJoin(operations, and(eq(operations.instanceId, instances.id), eq(operations.status, 'running')))
    .where(where)
    .orderBy(asc(instances.id))
    .limit(query.limit + 1);
  return {
    items: rows.slice(0, query.limit).map(({ instance, running }) => ({ instance, running: running ?? undefined })),
    more: rows.length > query.limit,
  };
}

/**
 * The slugs a rollout to `version` would upgrade, oldest instance first: `ready` (with no
 * operation running), matching every part of the selector given, not already at `version`.
 */
type RolloutTargetSelector = { plans?: string[]; slugs?: string[]; versions?: string[]; clusters?: string[]; regions?: string[] };

/** Ready instances matching every part of the selector given, not already at `version`. */
function rolloutTargetFilter(db: Database, selector: RolloutTargetSelector, version: string): SQL | undefined {
  return and(
    shownStatusIs('ready'),
    sql`${instances.version} <> ${version}`,
    selector.plans ? inArray(instances.plan, selector.plans) : undefined,
    selector.slugs ? inArray(instances.slug, selector.slugs) : undefined,
    selector.versions ? inArray(instances.version, selector.versions) : undefined,
    selector.clusters ? inArray(instances.cluster, selector.clusters) : undefined,
    selector.regions
      ? inArray(instances.cluster, db.select({ name: clusters.name }).from(clusters).where(inArray(clusters.region, selector.regions)))
      : undefined,
  );
}

export async function rolloutTargets(db: Database, selector: RolloutTargetSelector, version: string): Promise<string[]> {
  const rows = await db
    .select({ slug: instances.slug })
    .from(instances)
    .where(rolloutTargetFilter(db, selector, version))
    .orderBy(asc(instances.id));
  return rows.map((r) => r.slug);
}

/**
 * The targets of a rollout that waves by region: those of `regions` only, grouped by region in
 * that order, oldest first within each, each with the region of its cluster.
 */
export async function rolloutTargetsByRegion(
  db: Database,
  selector: RolloutTargetSelector,
  version: string,
  regions: string[],
): Promise<{ slug: string; region: string }[]> {
  if (regions.length === 0) return [];
  const order = sql`array[${sql.join(
    regions.map((r) => sql`${r}`),
    sql`, `,
  )}]::text[]`;
  return db
    .select({ slug: instances.slug, region: clusters.region })
    .from(instances)
    .innerJoin(clusters, eq(clusters.name, instances.cluster))
    .where(and(rolloutTargetFilter(db, selector, version), inArray(clusters.region, regions)))
    .orderBy(sql`array_position(${order}, ${clusters.region})`, asc(instances.id));
}

/** How many instances show each status (the status the API shows: a running operation's, else the stored one). */
/** The kind of each instance's running operation, as a subquery to join: what decides the status the API shows. */
export function runningOperationKinds(db: Database) {
  return db
    .select({ instanceId: operations.instanceId, kind: operations.kind })
    .from(operations)
    .where(eq(operations.status, 'running'))
    .as('running');
}

export async function countInstancesByStatus(db: Database): Promise<{ status: InstanceStatus; count: number }[]> {
  const running = runningOperationKinds(db);
  const rows = await db
    .select({ stored: instances.status, kind: running.kind, count: sql<number>`count(*)::int` })
    .from(instances)
    .leftJoin(running, eq(running.instanceId, instances.id))
    .groupBy(instances.status, running.kind);
  const counts = new Map<InstanceStatus, number>();
  for (const row of rows) {
    const status = shownStatus(row.stored, row.kind);
    counts.set(status, (counts.get(status) ?? 0) + row.count);
  }
  return [...counts].map(([status, count]) => ({ status, count }));
}

/**
 * Appends the instance's status and plan, as the transaction now has them, to its status history
 * — unless they are what the history already ends with (a retried write). Called in the same
 * transaction as every write of an instance's status or plan, after it: the history is what
 * metering bills from, so it never disagrees with the status.
 */
export async function recordStatusChange(tx: Transaction, instanceId: string): Promise<void> {
  const h = instanceStatusChanges;
  await tx.execute(sql`
    insert into ${h} (instance_id, status, plan)
    select i.id, i.status, i.plan from ${instances} i
    where i.id = ${instanceId}
      and not exists (
        select 1 from (select status, plan from ${h} where instance_id = i.id order by at desc, id desc limit 1) last
        where last.status = i.status and last.plan = i.plan)`);
}

/** Sets an instance's status (and version, and plan); returns whether the instance exists. */
/** When a delete in its grace period purges the instance (null: it is not waiting to be purged). */
export async function setPurgeAt(db: Database, instanceId: string, purgeAt: Date | null): Promise<boolean> {
  const rows = await db.update(instances).set({ purgeAt }).where(eq(instances.id, instanceId)).returning({ id: instances.id });
  return rows.length > 0;
}

export async function markInstance(
  db: Database,
  instanceId: string,
  patch: { status: InstanceStatus; version?: string; plan?: string },
): Promise<boolean> {
  return db.transaction((tx) => markInstanceIn(tx, instanceId, patch));
}

/** markInstance inside a transaction the caller holds. */
export async function markInstanceIn(
  tx: Transaction,
  instanceId: string,
  patch: { status: InstanceStatus; version?: string; plan?: string },
): Promise<boolean> {
  const rows = await tx
    .update(instances)
    .set({
      status: patch.status,
      ...(patch.version ? { version: patch.version } : {}),
      ...(patch.plan ? { plan: patch.plan } : {}),
      updatedAt: new Date(),
    })
    .where(eq(instances.id, instanceId))
    .returning({ id: instances.id });
  if (rows.length > 0) await recordStatusChange(tx, instanceId);
  return rows.length > 0;
}
