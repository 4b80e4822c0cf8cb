// Which webhook events an operation's outcome means. Pure: the recordEvent activity asks
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

export function webhookEventsFor({ action, outcome, instanceStatus }: OutcomeFacts): WebhookEventType[] {
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
