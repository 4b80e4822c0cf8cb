// Webhook event types and delivery statuses: the catalogue's enums are made from these. Which
// events an operation's outcome means is in operation-events.ts.

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
  'instance.deleting',
  'instance.undeleted',
  'instance.restored',
  'instance.purged',
  'backup.completed',
  'backup.failed',
  'instance.credentials_rotated',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

export const deliveryStatuses = ['pending', 'delivered', 'failed'] as const;
