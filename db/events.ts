// The audit trail: who did what to which instance, and how it ended.
import { and, asc, eq, gt } from 'drizzle-orm';
import type { Database, Transaction } from './client';
import { events } from './schema';

export type EventRow = typeof events.$inferSelect;

export interface NewEvent {
  instanceId?: string;
  operationId?: string;
  actor: string;
  action: string;
  outcome: string;
  message?: string;
  /** Makes the write idempotent: a second event with the same key is dropped. */
  key?: string;
}

export async function recordEvent(db: Database | Transaction, event: NewEvent): Promise<void> {
  await db
    .insert(events)
    .values({
      key: event.key ?? null,
      instanceId: event.instanceId ?? null,
      operationId: event.operationId ?? null,
      actor: event.actor,
      action: event.action,
      outcome: event.outcome,
      message: event.message ?? null,
    })
    .onConflictDoNothing({ target: events.key });
}

/** A page of an instance's events, oldest first; `after` is the last id of the previous page. */
export async function listEvents(
  db: Database,
  instanceId: string,
  page: { limit: number; after?: number },
): Promise<{ items: EventRow[]; more: boolean }> {
  const rows = await db
    .select()
    .from(events)
    .where(and(eq(events.instanceId, instanceId), page.after !== undefined ? gt(events.id, page.after) : undefined))
    .orderBy(asc(events.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}
