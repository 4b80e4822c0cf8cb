// The workflows' view of the catalogue. Each activity is safe to retry: updates set absolute
// values and events carry a deterministic key. An operation's audit event is also where its
// webhook events start (instance.ready, operation.failed, …): recording the outcome and telling
// subscribers are one fact, and every runbook already ends here.
import type { InstanceStatus } from '../domain/instance';
import type { OperationResult } from '../domain/operations';
import { setPurgedBackupsExpiry } from '../db/backups';
import { setInstanceCluster } from '../db/clusters';
import { markInstance, setPurgeAt } from '../db/instances';
import { claimInstance, closeOperation, finishOperation } from '../db/operations';
import { recordEvent } from '../db/events';
import { errorTypes, permanent } from './errors';
import type { ActivityDeps } from './deps';
import { publishOutcome } from './webhooks';

export function createCatalogueActivities(deps: Pick<ActivityDeps, 'db' | 'temporal' | 'config'>) {
  const { db } = deps;
  return {
    /** The first step of every operation: the instance must still be where the request saw it. */
    async claimInstance(claim: { instanceId: string; operationId: string; from: InstanceStatus; to: InstanceStatus }): Promise<void> {
      const outcome = await claimInstance(db, claim);
      if (outcome.claimed) return;
      throw permanent(
        outcome.status === undefined
          ? `instance ${claim.instanceId} is not in the catalogue`
          : `instance ${claim.instanceId} is ${outcome.status}, no longer ${claim.from} as when the operation was accepted; it was left as it is`,
        errorTypes.instanceMoved,
      );
    },

    async markInstance(instanceId: string, patch: { status: InstanceStatus; version?: string; plan?: string }): Promise<void> {
      if (!(await markInstance(db, instanceId, patch))) {
        throw permanent(`cannot set instance ${instanceId} to ${patch.status}: it is not in the catalogue`, errorTypes.catalogueRowMissing);
      }
    },

    /** Where the instance is placed from now on: a move's switch to the target cluster (and its undo, back to the source). */
    async placeInstance(instanceId: string, cluster: string): Promise<void> {
      if (!(await setInstanceCluster(db, instanceId, cluster))) {
        throw permanent(`cannot place instance ${instanceId} in cluster ${cluster}: it is not in the catalogue`, errorTypes.catalogueRowMissing);
      }
    },

    /** Shows when a delete's grace period ends (the workflow's timer is what purges). */
    async setPurgeAt(instanceId: string, purgeAt: string | null): Promise<void> {
      if (!(await setPurgeAt(db, instanceId, purgeAt === null ? null : new Date(purgeAt)))) {
        throw permanent(`cannot set when instance ${instanceId} purges: it is not in the catalogue`, errorTypes.catalogueRowMissing);
      }
    },

    /** A purged instance's backups (its final one above all) are kept SHIPYARD_FINAL_BACKUP_RETENTION_DAYS from now, then the backup sweep lets them go. */
    async keepFinalBackups(instanceId: string): Promise<void> {
      await setPurgedBackupsExpiry(db, instanceId, deps.config.finalBackupRetentionDays);
    },

    async finishOperation(operationId: string, result: OperationResult): Promise<void> {
      if (!(await finishOperation(db, operationId, result))) {
        throw permanent(`cannot record the result of operation ${operationId}: it is not in the catalogue`, errorTypes.catalogueRowMissing);
      }
    },

    /**
     * An operation's end in one call: the instance's new status (when given), the audit event and
     * the result in one transaction, then the webhook events it means. Replaces markInstance,
     * recordEvent and finishOperation one after another: two local activities fewer per
     * operation, each of which cost the worker a workflow activation and an encrypted payload
     * round trip (profiled: the workflow sandbox was the worker's largest single cost).
     */
    async closeOperation(close: {
      instance?: { status: InstanceStatus; version?: string; plan?: string };
      event: { instanceId: string; operationId: string; actor: string; action: string; outcome: string; message?: string };
      result: OperationResult;
    }): Promise<void> {
      const { event } = close;
      const key = `${event.operationId}:${event.action}:${event.outcome}`;
      const outcome = await closeOperation(db, {
        ...(close.instance ? { instance: { id: event.instanceId, patch: close.instance } } : {}),
        event: { ...event, key },
        operationId: event.operationId,
        result: close.result,
      });
      if (outcome === 'no-instance') {
        throw permanent(`cannot set instance ${event.instanceId} to ${close.instance!.status}: it is not in the catalogue`, errorTypes.catalogueRowMissing);
      }
      if (outcome === 'no-operation') {
        throw permanent(`cannot record the result of operation ${event.operationId}: it is not in the catalogue`, errorTypes.catalogueRowMissing);
      }
      await publishOutcome(deps, { ...event, key });
    },

    async recordEvent(event: {
      instanceId: string;
      operationId?: string;
      actor: string;
      action: string;
      outcome: string;
      message?: string;
    }): Promise<void> {
      // Without an operation there is nothing stable to key a retry on, so such events are
      // recorded as they come.
      const key = event.operationId ? `${event.operationId}:${event.action}:${event.outcome}` : undefined;
      await recordEvent(db, { ...event, key });
      if (key && event.operationId) await publishOutcome(deps, { ...event, key, operationId: event.operationId });
    },
  };
}
