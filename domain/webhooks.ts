// Webhook event types and delivery statuses (the catalogue's enums are made from these), and which
// events an operation's outcome means. Pure: the recordEvent activity asks webhookEventsFor with
// the audit event it just wrote and the instance's status after the operation.
import type { InstanceStatus } from './instance';

export const webhookEventTypes = [
  'instance.ready',
  'instance.failed',
  'instance.deleted',
  'instance.suspended',
  'instance.resumed',
  'instance.upgraded',
  'operation.failed',
  'operation.rolled_back',
  'operation.cancelled',
  'instance.unhealthy',
  'instance.healed',
  'instance.recovered',
  'invoice.issued',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

export const deliveryStatuses = ['pending', 'delivered', 'failed'] as const;

export interface OutcomeFacts {
  /** The operation kind (the audit event's action). */
  action: string;
  /** The operation's result status (the audit event's outcome). */
  outcome: string;
  /** The instance's status once the outcome was recorded. */
  instanceStatus: InstanceStatus | undefined;
}

const instanceEventOnSuccess: Partial<Record<string, WebhookEventType>> = {
  provision: 'instance.ready',
  upgrade: 'instance.upgraded',
  suspend: 'instance.suspended',
  resume: 'instance.resumed',
  teardown: 'instance.deleted',
};

export function webhookEventsFor({ action, outcome, instanceStatus }: OutcomeFacts): WebhookEventType[] {
  const types: WebhookEventType[] = [];
  if (outcome === 'succeeded') {
    const type = instanceEventOnSuccess[action];
    if (type) types.push(type);
  } else if (outcome === 'failed') types.push('operation.failed');
  else if (outcome === 'rolled_back') types.push('operation.rolled_back');
  else if (outcome === 'cancelled') types.push('operation.cancelled');
  // An operation that did not succeed may leave the instance failed (a provision undone, an undo
  // that could not finish): that is news about the instance, not only about the operation.
  if (outcome !== 'succeeded' && instanceStatus === 'failed') types.push('instance.failed');
  return types;
}
