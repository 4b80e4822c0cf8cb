// A rollout's I/O: which instances it upgrades, and one instance's upgrade started through the
// same path an API call takes (lifecycle/operations.ts), so it shows in the instance's operations and
// keeps one operation per instance.
import { neverStarted, startOnInstance } from '../lifecycle/operations';
import { InvalidTransition, OperationRunning } from '../domain/errors';
import { findInstance, rolloutTargets, rolloutTargetsByRegion, runningOperation } from '../db/instances';
import { getOperation, operationByActor } from '../db/operations';
import { rolloutActorFor, type RolloutSelector } from '../domain/rollouts';
import type { ActivityDeps } from './deps';
import { operationEnd } from './sweep-operations';


export type InstanceUpgradeOutcome =
  | { status: 'succeeded' | 'rolled_back' | 'failed' | 'cancelled'; operationId: string; error?: string }
  /** Another operation runs on the instance: nothing was started, try again later. */
  | { status: 'busy'; error: string }
  /** The instance may not be upgraded now (gone, moved to another status, already at the version). */
  | { status: 'refused'; error: string };

export function createRolloutActivities(deps: ActivityDeps) {
  return {
    /** The rollout's fixed target set: ready instances matching the selector, not at `version`. */
    async selectRolloutTargets(selector: RolloutSelector, version: string): Promise<string[]> {
      return rolloutTargets(deps.db, selector, version);
    },

    /** The same, for a rollout that waves by region: grouped by region in `regions`' order, each with its region. */
    async selectRolloutTargetsByRegion(selector: RolloutSelector, version: string, regions: string[]): Promise<{ slug: string; region: string }[]> {
      return rolloutTargetsByRegion(deps.db, selector, version, regions);
    },

    /**
     * Upgrades one instance for a rollout and waits for the operation's end, heartbeating. Safe to
     * retry (a worker killed mid-wait): an upgrade this rollout already started on the instance
     * (found by its actor, `rollout:<id>`) is waited on again, never started twice; one whose run
     * never started (the worker died between the row and the start) is settled by the reconcile,
     * which leaves the instance as it was, and then requested again.
     */
    async upgradeForRollout(rolloutId: string, slug: string, version: string): Promise<InstanceUpgradeOutcome> {
      const actor = rolloutActorFor(rolloutId);
      for (;;) {
        const found = await findInstance(deps.db, slug);
        if (!found) return { status: 'refused', error: `instance ${slug} no longer exists` };
        let operation = await operationByActor(deps.db, found.instance.id, 'upgrade', actor);
        if (!operation || neverStarted(operation)) {
          try {
            const started = await startOnInstance(deps, found, 'upgrade', actor, { version });
            operation = (await getOperation(deps.db, started.id))!;
          } catch (err) {
            if (!(err instanceof OperationRunning || err instanceof InvalidTransition)) throw err;
            // Refused because another operation runs (busy, try later), or because of the status.
            const busy = err instanceof OperationRunning || (await runningOperation(deps.db, found.instance.id)) !== undefined;
            return { status: busy ? 'busy' : 'refused', error: err.message };
          }
        }
        const ended = await operationEnd(deps, operation, (id) => `waiting for operation ${id} on ${slug}`);
        if (!neverStarted(ended)) {
          return { status: ended.status, operationId: ended.id, ...(ended.error ? { error: ended.error } : {}) };
        }
      }
    },
  };
}
