// The audit trail: who did what to which instance, and how it ended.
import { and, asc, desc, eq, gt, gte } from 'drizzle-orm';
import type { Database, Transaction } from './client';
import { events, instances } from './schema';

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

export type EventWithOwner = EventRow & { ownerEmail: string | null };

/**
 * Events after the event id `after`, oldest first, with their instance's owner (null for events
 * about no instance): of one instance since a time (an operation's start), or of the whole fleet.
 * What an event stream (lifecycle/streams.ts) reads each time it looks for news.
 */
export async function eventsAfter(
  db: Database,
  query: { after: number; instanceId?: string; since?: Date; limit: number },
): Promise<EventWithOwner[]> {
  const rows = await db
    .select({ event: events, ownerEmail: instances.ownerEmail })
    .from(events)
    .leftJoin(instances, eq(instances.id, events.instanceId))
    .where(
      and(
        gt(events.id, query.after),
        query.instanceId !== undefined ? eq(events.instanceId, query.instanceId) : undefined,
        query.since ? gte(events.at, query.since) : undefined,
      ),
    )
    .orderBy(asc(events.id))
    .limit(query.limit);
  return rows.map((r) => ({ ...r.event, ownerEmail: r.ownerEmail }));
}

/** The newest event's id (0 when there is none): where a stream that starts now begins. */
export async function latestEventId(db: Database): Promise<number> {
  const [row] = await db.select({ id: events.id }).from(events).orderBy(desc(events.id)).limit(1);
  return row?.id ?? 0;
}
