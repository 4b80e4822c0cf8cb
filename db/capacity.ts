// The cluster's capacity as the workers keep it for admission (domain/capacity.ts): the nodes'
// allocatable and the quota of each Shipyard namespace, per task queue. A refresh replaces the
// picture with a listing; an activity that applies or deletes a namespace's quota corrects its row
// at once. Rows carry when the cluster was seen that way, so a listing taken before a placement
// does not undo what the placement wrote.
import { and, eq, lt, notExists, notInArray, sql } from 'drizzle-orm';
import { capacityView, type CapacityView, type ClusterListing } from '../domain/capacity';
import { namespaceFor } from '../domain/instance';
import type { Database, Transaction } from './client';
import { livePlansWhere } from './plans';
import { clusterCapacity, instances, namespaceQuotas } from './schema';

type NamespaceQuota = ClusterListing['quotas'][number];

/** Rows per insert: well under Postgres's 65,535 parameters at five per row. */
const QUOTAS_PER_INSERT = 1000;

/**
 * `taskQueue`'s picture becomes `listing`, taken at `listedAt`: its allocatable, a row per quota,
 * and no row for a namespace the listing did not hold — unless a placement wrote that row after
 * `listedAt` (the listing could not have seen it yet).
 */
export async function replaceClusterPicture(db: Database, taskQueue: string, listing: ClusterListing, listedAt: Date): Promise<void> {
  const quotas = perNamespace(listing.quotas);
  await db.transaction(async (tx) => {
    await tx
      .insert(clusterCapacity)
      .values({ taskQueue, allocatableCpu: listing.allocatable.cpu, allocatableMemoryBytes: listing.allocatable.memoryBytes, listedAt })
      .onConflictDoUpdate({
        target: clusterCapacity.taskQueue,
        set: { allocatableCpu: sql`excluded.allocatable_cpu`, allocatableMemoryBytes: sql`excluded.allocatable_memory_bytes`, listedAt: sql`excluded.listed_at` },
        setWhere: sql`${clusterCapacity.listedAt} <= excluded.listed_at`,
      });
    for (let i = 0; i < quotas.length; i += QUOTAS_PER_INSERT) {
      await upsertQuotas(tx, taskQueue, quotas.slice(i, i + QUOTAS_PER_INSERT), listedAt, { onlyChanged: true });
    }
    await tx.delete(namespaceQuotas).where(
      and(
        eq(namespaceQuotas.taskQueue, taskQueue),
        notInArray(
          namespaceQuotas.namespace,
          quotas.map((q) => q.namespace),
        ),
        lt(namespaceQuotas.observedAt, listedAt),
      ),
    );
  });
}

/**
 * One row per namespace: Shipyard applies one quota to each, but the listing takes every quota
 * carrying its label, and the check adds them all up anyway.
 */
function perNamespace(quotas: NamespaceQuota[]): NamespaceQuota[] {
  const merged = new Map<string, NamespaceQuota>();
  for (const q of quotas) {
    const seen = merged.get(q.namespace);
    merged.set(q.namespace, seen ? { ...seen, cpu: seen.cpu + q.cpu, memoryBytes: seen.memoryBytes + q.memoryBytes } : { ...q });
  }
  return [...merged.values()];
}

/** The quota a placement has just applied to `quota.namespace`. */
export async function recordNamespaceQuota(db: Database, taskQueue: string, quota: NamespaceQuota, observedAt = new Date()): Promise<void> {
  await upsertQuotas(db, taskQueue, [quota], observedAt);
}

/** `namespace` is gone (deleted by a teardown, a cleanup or a compensation): it promises nothing. */
export async function forgetNamespaceQuota(db: Database, taskQueue: string, namespace: string): Promise<void> {
  await db.delete(namespaceQuotas).where(and(eq(namespaceQuotas.taskQueue, taskQueue), eq(namespaceQuotas.namespace, namespace)));
}

/**
 * `onlyChanged` (a refresh): a row that already holds the listed quota is not rewritten, so a pass
 * over a fleet's thousands of unchanged quotas writes nothing. A placement always stamps its row,
 * so no listing older than it overwrites it.
 */
async function upsertQuotas(
  db: Database | Transaction,
  taskQueue: string,
  quotas: NamespaceQuota[],
  observedAt: Date,
  { onlyChanged = false }: { onlyChanged?: boolean } = {},
): Promise<void> {
  if (quotas.length === 0) return;
  const changed = sql`(${namespaceQuotas.cpu}, ${namespaceQuotas.memoryBytes}) is distinct from (excluded.cpu, excluded.memory_bytes)`;
  await db
    .insert(namespaceQuotas)
    .values(quotas.map((q) => ({ taskQueue, namespace: q.namespace, cpu: q.cpu, memoryBytes: q.memoryBytes, observedAt })))
    .onConflictDoUpdate({
      target: [namespaceQuotas.taskQueue, namespaceQuotas.namespace],
      set: { cpu: sql`excluded.cpu`, memoryBytes: sql`excluded.memory_bytes`, observedAt: sql`excluded.observed_at` },
      setWhere: and(sql`${namespaceQuotas.observedAt} <= excluded.observed_at`, onlyChanged ? changed : undefined),
    });
}

/** `taskQueue`'s picture, in one query; undefined when no worker has reported it. */
export async function clusterPicture(db: Database | Transaction, taskQueue: string): Promise<ClusterListing | undefined> {
  const rows = await db
    .select({
      cpu: clusterCapacity.allocatableCpu,
      memoryBytes: clusterCapacity.allocatableMemoryBytes,
      quota: { namespace: namespaceQuotas.namespace, cpu: namespaceQuotas.cpu, memoryBytes: namespaceQuotas.memoryBytes },
    })
    .from(clusterCapacity)
    .leftJoin(namespaceQuotas, eq(namespaceQuotas.taskQueue, clusterCapacity.taskQueue))
    .where(eq(clusterCapacity.taskQueue, taskQueue));
  const [first] = rows;
  if (!first) return undefined;
  return {
    allocatable: { cpu: first.cpu, memoryBytes: first.memoryBytes },
    quotas: rows.flatMap((r) => (r.quota ? [r.quota] : [])),
  };
}

/**
 * What admission weighs, as `capacityView` counts it over the picture and the live plans, but with
 * the quotas summed by Postgres: a fleet's picture holds thousands of rows, and admissions are
 * serialised, so none is read one by one. Only the live instances whose namespace has no quota row
 * yet (accepted, not placed) come back as rows. Undefined when no worker has reported the cluster.
 */
export async function admissionView(
  tx: Database | Transaction,
  taskQueue: string,
  /** A named cluster's view counts only the unplaced instances placed in it (a single cluster's counts all). */
  placedIn?: string,
): Promise<CapacityView | undefined> {
  const [cluster] = await tx
    .select({
      cpu: clusterCapacity.allocatableCpu,
      memoryBytes: clusterCapacity.allocatableMemoryBytes,
      quotaCpu: sql<number>`coalesce(sum(${namespaceQuotas.cpu}), 0)`.mapWith(Number),
      quotaMemoryBytes: sql<number>`coalesce(sum(${namespaceQuotas.memoryBytes}), 0)`.mapWith(Number),
    })
    .from(clusterCapacity)
    .leftJoin(namespaceQuotas, eq(namespaceQuotas.taskQueue, clusterCapacity.taskQueue))
    .where(eq(clusterCapacity.taskQueue, taskQueue))
    .groupBy(clusterCapacity.taskQueue);
  if (!cluster) return undefined;
  const unplaced = await livePlansWhere(
    tx,
    and(placedIn === undefined ? undefined : eq(instances.cluster, placedIn), notExists(
      tx
        .select({ one: sql`1` })
        .from(namespaceQuotas)
        .where(and(eq(namespaceQuotas.taskQueue, taskQueue), eq(namespaceQuotas.namespace, sql`${namespaceFor('')} || ${instances.slug}`))),
    )),
  );
  const listed = { namespace: '', cpu: cluster.quotaCpu, memoryBytes: cluster.quotaMemoryBytes };
  return capacityView({ allocatable: { cpu: cluster.cpu, memoryBytes: cluster.memoryBytes }, quotas: [listed] }, undefined, unplaced);
}
