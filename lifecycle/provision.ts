// A new instance: its plan checked, its slug given or derived, its quota admitted by the cluster's
// capacity, its rows inserted and its provision started — or nothing at all.
import { capacityShortfall, capacityView, type ClusterListing } from '../domain/capacity';
import { InsufficientCapacity, NameTaken, Unprocessable } from '../domain/errors';
import type { Plan } from '../domain/instance';
import { kindSpec } from '../domain/operation-kinds';
import { workflowIdFor } from '../domain/operations';
import { lockKey, type Database, type Transaction } from '../db/client';
import { isUniqueViolation } from '../db/errors';
import { newId } from '../db/ids';
import { slugFromNameFree } from '../db/instances';
import { insertInstanceWithOperation } from '../db/operations';
import { getPlan, listPlans, livePlans } from '../db/plans';
import type { Deps } from './deps';
import { operationSettings, recordRequested, startWorkflow } from './operations';
import { startedView, toInstanceView, type InstanceView, type OperationView } from './views';

export interface ProvisionRequest {
  name: string;
  slug?: string;
  plan: string;
  ownerEmail: string;
  version?: string;
}

/** The plan named `name`, or Unprocessable listing the plans there are. */
export async function knownPlan(db: Database, name: string): Promise<Plan> {
  const plan = await getPlan(db, name);
  if (plan) return plan;
  const known = (await listPlans(db)).map((p) => p.name).join(', ');
  throw new Unprocessable(`unknown plan "${name}" (plans: ${known})`, [{ field: 'plan', message: 'is not a known plan' }]);
}

export async function provision(
  deps: Deps,
  request: ProvisionRequest,
  actor: string,
): Promise<{ instance: InstanceView; operation: OperationView }> {
  const plan = await knownPlan(deps.db, request.plan);
  const slug = request.slug ?? (await deriveSlug(deps, request.name));
  const version = request.version ?? deps.config.defaultVersion;
  const instanceId = newId('ins');
  const operationId = newId('op');
  // Listed before the lock below, many requests at once; what it cannot know yet, the catalogue adds.
  const cluster = deps.listCluster && (await deps.listCluster());
  let rows: Awaited<ReturnType<typeof insertInstanceWithOperation>>;
  try {
    rows = await insertInstanceWithOperation(
      deps.db,
      { id: instanceId, slug, name: request.name, plan: plan.name, version, ownerEmail: request.ownerEmail },
      { id: operationId, instanceId, kind: 'provision', workflowId: workflowIdFor(slug), actor },
      cluster && ((tx) => admitByCapacity(cluster, tx, plan, deps.config.overcommitRatio)),
    );
  } catch (err) {
    if (isUniqueViolation(err, 'instances_slug_unique')) throw new NameTaken(`slug "${slug}" is taken`, [{ field: 'slug', message: 'is taken' }]);
    throw err;
  }
  const spec = kindSpec('provision');
  const input = spec.input(
    { operationId, instanceId, slug, actor, settings: operationSettings(deps), fromStatus: rows.instance.status },
    { plan, instance: rows.instance, request: {} },
  );
  const operation = await startWorkflow(deps, spec, rows.instance, rows.operation, input, true);
  await recordRequested(deps, operation, actor, `provision ${slug} on plan ${plan.name} at version ${version}`);
  const view = startedView(operation);
  return { instance: toInstanceView(deps.config, rows.instance, view), operation: view };
}

/**
 * Quotas are validated before anything is created: a new instance that does not fit next to every
 * other instance's quota (and every instance accepted before it, its quota perhaps not applied
 * yet) is refused here, not half-provisioned. Serialised across API replicas until the new
 * instance's row is committed, so the next check counts it; under the lock only the catalogue is
 * read (the cluster was listed before), so admissions stay quick when a fleet arrives at once.
 */
async function admitByCapacity(cluster: ClusterListing, tx: Transaction, plan: Plan, overcommitRatio: number): Promise<void> {
  await lockKey(tx, 'instance-capacity');
  const shortfall = capacityShortfall(capacityView(cluster, undefined, await livePlans(tx)), plan, overcommitRatio);
  if (shortfall) throw new InsufficientCapacity(shortfall);
}

async function deriveSlug(deps: Deps, name: string): Promise<string> {
  try {
    return await slugFromNameFree(deps.db, name);
  } catch (err) {
    throw new NameTaken(err instanceof Error ? err.message : String(err), [
      { field: 'slug', message: 'could not be derived from the name; give one' },
    ]);
  }
}
