// A new instance: its plan checked, its slug given or derived, its quota admitted by the cluster's
// capacity, its rows inserted and its provision started — or nothing at all.
import { capacityShortfall } from '../domain/capacity';
import type { Scope } from '../domain/api-keys';
import { InsufficientCapacity, OutOfScope, SlugTaken, Unavailable } from '../domain/errors';
import type { Plan } from '../domain/instance';
import { kindSpec } from '../domain/operation-kinds';
import { workflowIdFor } from '../domain/operations';
import { admissionView } from '../db/capacity';
import { lockKey, type Transaction } from '../db/client';
import { isUniqueViolation } from '../db/errors';
import { newId } from '../db/ids';
import { slugFromNameFree } from '../db/instances';
import { insertInstanceWithOperation } from '../db/operations';
import type { Placement } from '../domain/clusters';
import { placementOf, placeNewInstance } from './clusters';
import type { Deps } from './deps';
import { backupToRestore, knownPlan, operationSettings, recordRequested, startWorkflow } from './operations';
import { startedView, toInstanceView, type InstanceView, type OperationView } from './views';

export interface ProvisionRequest {
  name: string;
  slug?: string;
  plan: string;
  ownerEmail: string;
  version?: string;
  /** A clone: the new instance's database is restored from this backup (of any instance). */
  fromBackup?: string;
  /** Multi-cluster: the region to place the instance in (the cluster with most room there). */
  region?: string;
  /** Multi-cluster: the very cluster (admin only; the route checks the role). */
  cluster?: string;
}

export async function provision(
  deps: Deps,
  request: ProvisionRequest,
  actor: string,
  /** The caller's: a key bound to an owner provisions for that owner only, and clones only its backups. */
  scope: Scope,
): Promise<{ instance: InstanceView; operation: OperationView }> {
  if (scope.owner !== undefined && request.ownerEmail !== scope.owner) {
    throw new OutOfScope(`this API key is bound to owner ${scope.owner}: it creates instances for ${scope.owner} only (ownerEmail)`, [
      { field: 'ownerEmail', message: `must be ${scope.owner}, the owner this API key is bound to` },
    ]);
  }
  const plan = await knownPlan(deps.db, request.plan);
  const slug = request.slug ?? (await deriveSlug(deps, request.name));
  const backup = request.fromBackup === undefined ? undefined : await backupToRestore(deps, request.fromBackup, scope);
  // A clone runs the version its data was written by, unless told otherwise.
  const version = request.version ?? backup?.appVersion ?? deps.config.defaultVersion;
  const instanceId = newId('ins');
  const operationId = newId('op');
  let rows: Awaited<ReturnType<typeof insertInstanceWithOperation>>;
  const placed = request.region !== undefined || request.cluster !== undefined;
  let placement: Placement | undefined;
  try {
    rows = await insertInstanceWithOperation(
      deps.db,
      { id: instanceId, slug, name: request.name, plan: plan.name, version, ownerEmail: request.ownerEmail },
      { id: operationId, instanceId, kind: 'provision', workflowId: workflowIdFor(slug), actor },
      placed
        ? async (tx) => {
            // Placements are serialised like admissions: the next one counts this one.
            await lockKey(tx, 'instance-capacity');
            const cluster = await placeNewInstance(deps, tx, plan, { region: request.region, cluster: request.cluster });
            placement = placementOf(cluster);
            return { cluster: cluster.name };
          }
        : deps.checkCapacity
          ? (tx) => admitByCapacity(tx, deps.config, plan)
          : undefined,
    );
  } catch (err) {
    if (isUniqueViolation(err, 'instances_slug_unique')) throw new SlugTaken(`slug "${slug}" is taken`, [{ field: 'slug', message: 'is taken' }]);
    throw err;
  }
  const spec = kindSpec('provision');
  const input = spec.input(
    { operationId, instanceId, slug, actor, settings: operationSettings(deps), fromStatus: rows.instance.status, ...(placement ? { placement } : {}) },
    { plan, instance: rows.instance, request: backup ? { backup } : {} },
  );
  const operation = await startWorkflow(deps, spec, rows.instance, rows.operation, input, true);
  await recordRequested(deps, operation, actor, `provision ${slug} on plan ${plan.name} at version ${version}${placement ? ` in cluster ${placement.cluster}` : ''}${backup ? `, cloned from backup ${backup.backupId}` : ''}`);
  const view = startedView(deps.config, operation);
  return { instance: toInstanceView(deps.config, rows.instance, view), operation: view };
}

/**
 * Quotas are validated before anything is created: a new instance that does not fit next to every
 * other instance's quota (and every instance accepted before it, its quota perhaps not applied
 * yet) is refused here, not half-provisioned. Serialised across API replicas until the new
 * instance's row is committed, so the next check counts it. The cluster is read as the workers
 * keep it in the catalogue (the API holds no Kubernetes client), summed by Postgres: the whole
 * check is two small queries, so admissions stay quick when a fleet arrives at once.
 */
async function admitByCapacity(tx: Transaction, config: Deps['config'], plan: Plan): Promise<void> {
  await lockKey(tx, 'instance-capacity');
  const view = await admissionView(tx, config.taskQueue);
  if (!view) {
    throw new Unavailable(`no worker has reported the cluster's capacity for task queue "${config.taskQueue}"; is a worker polling it?`);
  }
  const shortfall = capacityShortfall(view, plan, config.overcommitRatio);
  if (shortfall) throw new InsufficientCapacity(shortfall);
}

async function deriveSlug(deps: Deps, name: string): Promise<string> {
  try {
    return await slugFromNameFree(deps.db, name);
  } catch (err) {
    throw new SlugTaken(err instanceof Error ? err.message : String(err), [
      { field: 'slug', message: 'could not be derived from the name; give one' },
    ]);
  }
}
