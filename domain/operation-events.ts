// Which webhook events an operation's outcome (or a milestone on its way) means. Pure: the recordEvent activity asks
// webhookEventsFor with the audit event it just wrote and the instance's status after the operation.
import type { InstanceStatus } from './instance';
import { operationKindSpecs, type OperationKind } from './operation-kinds';
import type { WebhookEventType } from './webhooks';

export interface OutcomeFacts {
  /** The operation kind (the audit event's action). */
  action: string;
  /** The operation's result status (the audit event's outcome). */
  outcome: string;
  /** The instance's status once the outcome was recorded. */
  instanceStatus: InstanceStatus | undefined;
}

/**
 * Milestones an operation records on its way (audit events that are not its outcome): a backup
 * taken or failed inside any operation (`<kind> backup`), a delete's grace period begun, its
 * purge, an undelete.
 */
function milestoneEvent(action: string, outcome: string): WebhookEventType | undefined {
  if (action.endsWith(' backup')) return outcome === 'completed' ? 'backup.completed' : outcome === 'failed' ? 'backup.failed' : undefined;
  if (action === 'teardown' && outcome === 'grace') return 'instance.deleting';
  if (action === 'teardown' && outcome === 'purged') return 'instance.purged';
  if (action === 'undelete' && outcome === 'succeeded') return 'instance.undeleted';
  return undefined;
}

export function webhookEventsFor({ action, outcome, instanceStatus }: OutcomeFacts): WebhookEventType[] {
  const milestone = milestoneEvent(action, outcome);
  if (milestone) return [milestone];
  const types: WebhookEventType[] = [];
  if (outcome === 'succeeded') {
    // The kind's own news (instance.ready, instance.upgraded, …), as its table entry declares it.
    const type = Object.hasOwn(operationKindSpecs, action) ? operationKindSpecs[action as OperationKind].succeeded : null;
    if (type) types.push(type);
  } else if (outcome === 'failed') types.push('operation.failed');
  else if (outcome === 'rolled_back') types.push('operation.rolled_back');
  else if (outcome === 'cancelled') types.push('operation.cancelled');
  // An operation that did not succeed may leave the instance failed (a provision undone, an undo
  // that could not finish): that is news about the instance, not only about the operation.
  if (outcome !== 'succeeded' && instanceStatus === 'failed') types.push('instance.failed');
  return types;
}
