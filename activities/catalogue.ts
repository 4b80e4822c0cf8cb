// The workflows' view of the catalogue. Each activity is safe to retry: updates set absolute
// values and events carry a deterministic key.
import type { InstanceStatus } from '../domain/instance';
import type { OperationResult } from '../domain/operations';
import * as catalogue from '../db/catalogue';
import type { ActivityDeps } from './index';

export function createCatalogueActivities({ db }: Pick<ActivityDeps, 'db'>) {
  return {
    async markInstance(instanceId: string, patch: { status: InstanceStatus; version?: string }): Promise<void> {
      await catalogue.markInstance(db, instanceId, patch);
    },

    async finishOperation(operationId: string, result: OperationResult): Promise<void> {
      await catalogue.finishOperation(db, operationId, result);
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
      await catalogue.recordEvent(db, { ...event, key });
    },
  };
}
