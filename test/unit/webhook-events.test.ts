// Which webhook events an operation's outcome means.
import { describe, expect, it } from 'vitest';
import { webhookEventsFor } from '../../domain/operation-events';

describe('webhookEventsFor', () => {
  it.each([
    ['provision', 'succeeded', 'ready', ['instance.ready']],
    ['upgrade', 'succeeded', 'ready', ['instance.upgraded']],
    ['suspend', 'succeeded', 'suspended', ['instance.suspended']],
    ['resume', 'succeeded', 'ready', ['instance.resumed']],
    ['teardown', 'succeeded', 'deleted', ['instance.deleted']],
    ['cleanup', 'succeeded', 'failed', []],
    ['upgrade', 'rolled_back', 'ready', ['operation.rolled_back']],
    ['provision', 'failed', 'failed', ['operation.failed', 'instance.failed']],
    ['suspend', 'failed', 'ready', ['operation.failed']],
    ['provision', 'cancelled', 'failed', ['operation.cancelled', 'instance.failed']],
    ['upgrade', 'cancelled', 'ready', ['operation.cancelled']],
    ['restore', 'succeeded', 'ready', ['instance.restored']],
    ['backup', 'succeeded', 'ready', []],
    ['backup', 'failed', 'ready', ['operation.failed']],
    ['manual backup', 'completed', 'ready', ['backup.completed']],
    ['final backup', 'failed', 'deleting', ['backup.failed']],
    ['teardown', 'grace', 'deleting', ['instance.deleting']],
    ['teardown', 'purged', 'deleted', ['instance.purged']],
    ['undelete', 'succeeded', 'ready', ['instance.undeleted']],
    // An undelete also ends the delete operation, rolled back.
    ['teardown', 'rolled_back', 'ready', ['operation.rolled_back']],
  ] as const)('%s %s (instance %s) → %j', (action, outcome, instanceStatus, expected) => {
    expect(webhookEventsFor({ action, outcome, instanceStatus })).toEqual(expected);
  });

});
