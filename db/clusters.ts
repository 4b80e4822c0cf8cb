// The catalogue of clusters: registered by their workers, drained by operators, and read with their
// last capacity report (cluster_capacity, under the cluster's task queue) and instance count.
import { asc, eq, sql } from 'drizzle-orm';
import type { CapacityView } from '../domain/capacity';
import type { Database, Transaction } from './client';
import { admissionView } from './capacity';
import { clusterCapacity, clusters, instances } from './schema';

export type ClusterRow = typeof clusters.$inferSelect;
export type ClusterRegistration = Omit<ClusterRow, 'drained' | 'registeredAt'>;

export interface ClusterWithReport extends ClusterRow {
  /** When its worker last listed it; null before the first report. */
  reportedAt: Date | null;
  /** Instances placed in it that are not deleted. */
  instanceCount: number;
}

/** A cluster worker's start: the row is made or brought up to date; an operator's drain stays. */
export async function registerCluster(db: Database, cluster: ClusterRegistration): Promise<void> {
  await db
    .insert(clusters)
    .values(cluster)
    .onConflictDoUpdate({
      target: clusters.name,
      set: { region: cluster.region, labels: cluster.labels, taskQueue: cluster.taskQueue, ingressTarget: cluster.ingressTarget },
    });
}

const withReport = {
  name: clusters.name,
  region: clusters.region,
  labels: clusters.labels,
  taskQueue: clusters.taskQueue,
  ingressTarget: clusters.ingressTarget,
  drained: clusters.drained,
  registeredAt: clusters.registeredAt,
  reportedAt: clusterCapacity.listedAt,
  instanceCount: sql<number>`(select count(*) from ${instances} where ${instances.cluster} = ${clusters.name} and ${instances.status} <> 'deleted')`.mapWith(
    Number,
  ),
};

/** Every cluster, by name; or those of one region. */
export async function listClusters(db: Database | Transaction, filter: { region?: string } = {}): Promise<ClusterWithReport[]> {
  return db
    .select(withReport)
    .from(clusters)
    .leftJoin(clusterCapacity, eq(clusterCapacity.taskQueue, clusters.taskQueue))
    .where(filter.region === undefined ? undefined : eq(clusters.region, filter.region))
    .orderBy(asc(clusters.name));
}

export async function getCluster(db: Database | Transaction, name: string): Promise<ClusterWithReport | undefined> {
  const [row] = await db
    .select(withReport)
    .from(clusters)
    .leftJoin(clusterCapacity, eq(clusterCapacity.taskQueue, clusters.taskQueue))
    .where(eq(clusters.name, name));
  return row;
}

/** Drains (no new instance is placed in it) or undrains a cluster; false when there is none. */
export async function setDrained(db: Database, name: string, drained: boolean): Promise<boolean> {
  const rows = await db.update(clusters).set({ drained }).where(eq(clusters.name, name)).returning({ name: clusters.name });
  return rows.length > 0;
}

/** Places instance `instanceId` in `cluster` (a move's switch, or its undo); false when there is no such instance. */
export async function setInstanceCluster(db: Database, instanceId: string, cluster: string): Promise<boolean> {
  const rows = await db.update(instances).set({ cluster, updatedAt: new Date() }).where(eq(instances.id, instanceId)).returning({ id: instances.id });
  return rows.length > 0;
}

/** What a placement weighs in `cluster`: its report and the instances placed in it without a quota yet. */
export function clusterCapacityView(tx: Database | Transaction, cluster: Pick<ClusterRow, 'name' | 'taskQueue'>): Promise<CapacityView | undefined> {
  return admissionView(tx, cluster.taskQueue, cluster.name);
}

