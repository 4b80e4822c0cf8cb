// The scheduled half of reconciliation (reads do the other half): running rows whose runs closed
// without recording their result, and instances left in a transitional status with no operation
// behind them, are made true. The rules live with the operations they reconcile (lifecycle/operations.ts).
// Each pass also lists the cluster again for admission's picture of it (db/capacity.ts).
import { Context } from '@temporalio/activity';
import { reconcileOperation, reconcileStuckInstance } from '../lifecycle/operations';
import { instancesStuckWithoutOperation, runningOperationsToReconcile } from '../db/operations';
import type { ActivityDeps } from './deps';
import { refreshClusterPicture } from './capacity';

/** A row without a run id younger than this is a start still in flight; an instance changed more recently is mid-transition. */
const SETTLE_AFTER_MS = 30_000;
/** One pass looks at this many rows of each kind; the next pass takes the rest. */
const BATCH = 500;

export interface ReconcileSummary {
  /** Running operation rows looked at. */
  checked: number;
  /** Of those, rows whose run had closed and that were finished now. */
  settled: number;
  /** Instances in a transitional status with no running operation, given a true status. */
  unstuck: number;
}

export function createReconcileActivities(deps: Pick<ActivityDeps, 'config' | 'db' | 'temporal' | 'kube'>) {
  return {
    async reconcileRunningOperations(): Promise<ReconcileSummary> {
      const ctx = Context.current();
      // Beside the repairs, not before them: a cluster that cannot be listed must not hold them
      // back (nor a failed repair the listing). A failed listing fails the pass once the repairs
      // are done, so the activity's retry, or the next pass, lists again.
      const refreshed = refreshClusterPicture(deps.kube, deps.db, deps.config.taskQueue).then(
        () => undefined,
        (err: unknown) => err,
      );
      const before = new Date(Date.now() - SETTLE_AFTER_MS);
      const rows = await runningOperationsToReconcile(deps.db, before, BATCH);
      let settled = 0;
      for (const [index, row] of rows.entries()) {
        ctx.heartbeat({ detail: `reconciling running operation ${index + 1} of ${rows.length}` });
        const { row: after } = await reconcileOperation(deps, row);
        if (after.status !== 'running') settled += 1;
      }
      const stuck = await instancesStuckWithoutOperation(deps.db, before, BATCH);
      for (const instance of stuck) await reconcileStuckInstance(deps, instance);
      const refreshFailure = await refreshed;
      if (refreshFailure) throw refreshFailure;
      return { checked: rows.length, settled, unstuck: stuck.length };
    },
  };
}
