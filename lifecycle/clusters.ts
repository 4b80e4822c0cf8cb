// The clusters instances are placed in, apart from HTTP: their views (status from the last report,
// capacity, instance count), drain and undrain, where a new instance goes, and the placement an
// operation's run carries so its cluster activities reach the cluster's own worker.
import { capacityShortfall } from '../domain/capacity';
import { clusterStatus, type ClusterStatus, type Placement, pickCluster } from '../domain/clusters';
import { NotFound, PlacementRefused, PlacementUnserved } from '../domain/errors';
import type { Plan } from '../domain/instance';
import { clusterCapacityView, getCluster, listClusters, setDrained, type ClusterWithReport } from '../db/clusters';
import { type Database, lockKey, type Transaction } from '../db/client';
import { getPlan } from '../db/plans';
import type { Deps } from './deps';

export interface ClusterView {
  name: string;
  region: string;
  labels: Record<string, string>;
  status: ClusterStatus;
  drained: boolean;
  /** When its worker last reported; null before the first report. */
  reportedAt: string | null;
  /** CPU cores and memory bytes: what its nodes have, what instances' quotas promise, what is left. */
  capacity: { allocatable: Resources; promised: Resources; free: Resources } | null;
  instanceCount: number;
}

interface Resources {
  cpu: number;
  memoryBytes: number;
}

async function toView(deps: Pick<Deps, 'config'>, db: Database | Transaction, row: ClusterWithReport, now = new Date()): Promise<ClusterView> {
  const view = await clusterCapacityView(db, row);
  const ratio = deps.config.overcommitRatio;
  return {
    name: row.name,
    region: row.region,
    labels: row.labels,
    status: clusterStatus(row, now, deps.config.clusterReportSeconds),
    drained: row.drained,
    reportedAt: row.reportedAt?.toISOString() ?? null,
    capacity: view
      ? {
          allocatable: view.allocatable,
          promised: view.promised,
          free: {
            cpu: Math.max(0, view.allocatable.cpu * ratio - view.promised.cpu),
            memoryBytes: Math.max(0, view.allocatable.memoryBytes * ratio - view.promised.memoryBytes),
          },
        }
      : null,
    instanceCount: row.instanceCount,
  };
}

export async function listClusterViews(deps: Pick<Deps, 'config' | 'db'>, filter: { region?: string } = {}): Promise<ClusterView[]> {
  const now = new Date();
  return Promise.all((await listClusters(deps.db, filter)).map((row) => toView(deps, deps.db, row, now)));
}

export async function clusterView(deps: Pick<Deps, 'config' | 'db'>, name: string): Promise<ClusterView> {
  const row = await getCluster(deps.db, name);
  if (!row) throw new NotFound(`cluster "${name}"`);
  return toView(deps, deps.db, row);
}

/** Drains (no new instance goes there; the ones in it stay until moved) or undrains a cluster. */
export async function drainCluster(deps: Pick<Deps, 'config' | 'db'>, name: string, drained: boolean): Promise<ClusterView> {
  if (!(await setDrained(deps.db, name, drained))) throw new NotFound(`cluster "${name}"`);
  return clusterView(deps, name);
}

export function placementOf(row: Pick<ClusterWithReport, 'name' | 'taskQueue' | 'ingressTarget'>): Placement {
  return { cluster: row.name, taskQueue: row.taskQueue, ingressTarget: row.ingressTarget };
}

/** The placement an operation on an instance in `cluster` carries; undefined for an unplaced instance. */
export async function placementFor(db: Database | Transaction, cluster: string | null): Promise<Placement | undefined> {
  if (cluster === null) return undefined;
  const row = await getCluster(db, cluster);
  // The row is the cluster worker's to write; an instance never names a cluster that was not registered.
  if (!row) throw new Error(`the instance is placed in cluster ${cluster}, which is not in the catalogue`);
  return placementOf(row);
}

/**
 * Where a new instance of `plan` goes: the cluster asked for (admin), or the online, undrained
 * cluster of `region` with the most room left — refused with the region's (or cluster's) name when
 * none has room (PlacementRefused, 409) or none serves it (PlacementUnserved, 422). Called inside
 * the admission's transaction, under its lock.
 */
export async function placeNewInstance(
  deps: Pick<Deps, 'config'>,
  tx: Transaction,
  plan: Plan,
  where: { region?: string; cluster?: string },
): Promise<ClusterWithReport> {
  const now = new Date();
  const ratio = deps.config.overcommitRatio;
  if (where.cluster !== undefined) {
    const row = await getCluster(tx, where.cluster);
    if (!row) throw new PlacementUnserved(`no cluster ${where.cluster} is registered`, [{ field: 'cluster', message: 'is not a registered cluster' }]);
    if (where.region !== undefined && row.region !== where.region) {
      throw new PlacementUnserved(`cluster ${row.name} is in region ${row.region}, not ${where.region}`, [{ field: 'cluster', message: `is not in region ${where.region}` }]);
    }
    const status = clusterStatus(row, now, deps.config.clusterReportSeconds);
    if (status !== 'online') throw new PlacementRefused(`cluster ${row.name} is ${status}: it takes no new instance`);
    const view = await clusterCapacityView(tx, row);
    const shortfall = view ? capacityShortfall(view, plan, ratio) : `cluster ${row.name} has not reported its capacity`;
    if (shortfall) throw new PlacementRefused(`cluster ${row.name}: ${shortfall}`);
    return row;
  }
  const region = where.region!;
  const rows = await listClusters(tx, { region });
  if (rows.length === 0) throw new PlacementUnserved(`no cluster serves region ${region}`, [{ field: 'region', message: 'no cluster serves it' }]);
  const candidates = await Promise.all(
    rows.map(async (row) => ({ row, name: row.name, region: row.region, status: clusterStatus(row, now, deps.config.clusterReportSeconds), capacity: await clusterCapacityView(tx, row) })),
  );
  const picked = pickCluster(candidates, plan, ratio);
  if ('refusal' in picked) throw new PlacementRefused(`no cluster in region ${region} has room for plan ${plan.name}: ${picked.refusal}`);
  return candidates.find((c) => c.name === picked.cluster.name)!.row;
}

/**
 * The cluster a move of `instance` goes to, as its placement: the cluster must be registered (else
 * PlacementUnserved, 422), online, undrained and have room for the instance's plan (else
 * PlacementRefused, 409), weighed like a new instance's placement, under the same lock. The cluster
 * it is already in is returned as it is: the move's own refusal says so.
 */
export async function moveTarget(deps: Pick<Deps, 'config' | 'db'>, instance: { plan: string; cluster: string | null }, cluster: string): Promise<Placement> {
  if (instance.cluster === cluster) {
    const row = await getCluster(deps.db, cluster);
    if (row) return placementOf(row);
  }
  const plan = await getPlan(deps.db, instance.plan);
  if (!plan) throw new Error(`plan ${instance.plan} is not in the catalogue`);
  return deps.db.transaction(async (tx) => {
    await lockKey(tx, 'instance-capacity');
    return placementOf(await placeNewInstance(deps, tx, plan, { cluster }));
  });
}
