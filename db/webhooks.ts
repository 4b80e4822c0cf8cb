// Outbound webhooks: the subscriptions, the events sent to them (one row per event, however often
// it is sent) and the delivery log.
import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import type { WebhookEventType } from '../domain/webhooks';
import type { Database } from './client';
import { newId } from './ids';
import { webhookDeliveries, webhookEvents, webhooks } from './schema';

export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookEventRow = typeof webhookEvents.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

export async function insertWebhook(db: Database, webhook: typeof webhooks.$inferInsert): Promise<WebhookRow> {
  const [row] = await db.insert(webhooks).values(webhook).returning();
  return row!;
}

export async function listWebhooks(db: Database): Promise<WebhookRow[]> {
  return db.select().from(webhooks).orderBy(asc(webhooks.id));
}

export async function getWebhook(db: Database, id: string): Promise<WebhookRow | undefined> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  return row;
}

/** Deletes a webhook and its delivery log; deliveries still retrying stop at their next attempt. */
export async function deleteWebhook(db: Database, id: string): Promise<WebhookRow | undefined> {
  const [row] = await db.delete(webhooks).where(eq(webhooks.id, id)).returning();
  return row;
}

/** The webhooks subscribed to `type` (by name or with `*`). */
export async function webhooksFor(db: Database, type: WebhookEventType): Promise<WebhookRow[]> {
  return db
    .select()
    .from(webhooks)
    .where(sql`${webhooks.events} && array[${type}, '*']::text[]`)
    .orderBy(asc(webhooks.id));
}

/**
 * The event with this key, made now if it is new. Retries of the writer find the first one, so
 * an event keeps its id (and body) however often the code that raises it runs.
 */
export async function ensureWebhookEvent(
  db: Database,
  event: { key: string; type: WebhookEventType; payload: (id: string) => unknown },
): Promise<WebhookEventRow> {
  const id = newId('evt');
  await db
    .insert(webhookEvents)
    .values({ id, key: event.key, type: event.type, payload: event.payload(id) })
    .onConflictDoNothing({ target: webhookEvents.key });
  const [row] = await db.select().from(webhookEvents).where(eq(webhookEvents.key, event.key));
  return row!;
}

/** The delivery of an event to a webhook, made now if it is new. */
export async function ensureDelivery(db: Database, eventId: string, webhookId: string): Promise<DeliveryRow> {
  await db
    .insert(webhookDeliveries)
    .values({ id: newId('dlv'), eventId, webhookId })
    .onConflictDoNothing({ target: [webhookDeliveries.eventId, webhookDeliveries.webhookId] });
  const [row] = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.eventId, eventId), eq(webhookDeliveries.webhookId, webhookId)));
  return row!;
}

/** A delivery with what sending it needs; undefined once its webhook is deleted. */
export async function deliveryToSend(
  db: Database,
  id: string,
): Promise<{ delivery: DeliveryRow; webhook: WebhookRow; event: WebhookEventRow } | undefined> {
  const [row] = await db
    .select({ delivery: webhookDeliveries, webhook: webhooks, event: webhookEvents })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(eq(webhookDeliveries.id, id));
  return row;
}

/** Counts an attempt as it starts, so the log shows attempts in flight and those a crash cut short. */
export async function countDeliveryAttempt(db: Database, id: string): Promise<number> {
  const [row] = await db
    .update(webhookDeliveries)
    .set({ attempts: sql`${webhookDeliveries.attempts} + 1` })
    .where(eq(webhookDeliveries.id, id))
    .returning({ attempts: webhookDeliveries.attempts });
  return row?.attempts ?? 0;
}

export async function recordDeliveryAttempt(
  db: Database,
  id: string,
  attempt: { statusCode?: number; error?: string; delivered: boolean },
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      lastStatusCode: attempt.statusCode ?? null,
      lastError: attempt.error ?? null,
      ...(attempt.delivered ? { status: 'delivered' as const, deliveredAt: sql`coalesce(${webhookDeliveries.deliveredAt}, now())` } : {}),
    })
    .where(eq(webhookDeliveries.id, id));
}

/** The retry window closed without a receiver that answered 2xx. */
export async function giveUpDelivery(db: Database, id: string): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ status: 'failed' })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending')));
}

/** A page of a webhook's deliveries, newest first; `after` is the last id of the previous page. */
export async function listDeliveries(
  db: Database,
  webhookId: string,
  page: { limit: number; after?: string },
): Promise<{ items: (DeliveryRow & { type: WebhookEventType })[]; more: boolean }> {
  const rows = await db
    .select({ delivery: webhookDeliveries, type: webhookEvents.type })
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(and(eq(webhookDeliveries.webhookId, webhookId), page.after ? lt(webhookDeliveries.id, page.after) : undefined))
    .orderBy(desc(webhookDeliveries.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit).map((r) => ({ ...r.delivery, type: r.type })), more: rows.length > page.limit };
}
