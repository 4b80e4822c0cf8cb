// Invoices from the usage ledger. A billing account is an owner email; an invoice covers one
// calendar month (UTC) of that owner's instances. Issued invoices are never changed: a rerun that
// finds the ledger moved since adds a new invoice of adjustment lines, one per difference.
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Scope } from '../domain/api-keys';
import { lineAmountCents, unitPriceCents } from '../domain/invoices';
import type { Meter } from '../domain/metering';
import { lockKey, type Database, type Transaction } from './client';
import { newId } from './ids';
import { listPlans } from './plans';
import { instances, invoiceLines, invoices, usageLedger } from './schema';

export type InvoiceRow = typeof invoices.$inferSelect;
export type InvoiceLineRow = typeof invoiceLines.$inferSelect;

export const periodPattern = '^[0-9]{4}-(0[1-9]|1[0-2])$';

/** [start, end) of a `YYYY-MM` period, UTC. */
export function periodBounds(period: string): { start: Date; end: Date } {
  const [year, month] = period.split('-').map(Number) as [number, number];
  return { start: new Date(Date.UTC(year, month - 1, 1)), end: new Date(Date.UTC(year, month, 1)) };
}

/** Owners whose instances have ledger rows in the period. */
export async function ownersWithUsage(db: Database, period: string): Promise<string[]> {
  const { start, end } = periodBounds(period);
  const rows = await db
    .selectDistinct({ owner: instances.ownerEmail })
    .from(usageLedger)
    .innerJoin(instances, eq(instances.id, usageLedger.instanceId))
    .where(and(sql`${usageLedger.hour} >= ${start.toISOString()}`, lt(usageLedger.hour, end)))
    .orderBy(asc(instances.ownerEmail));
  return rows.map((r) => r.owner);
}

/** The meters an invoice bills (database storage is measured, not priced). */
const invoicedMeters = ['running_seconds', 'suspended_seconds', 'backup_storage_bytes'] as const satisfies readonly Meter[];

interface LineKey {
  instanceId: string;
  slug: string;
  plan: string;
  meter: (typeof invoicedMeters)[number];
}
const keyOf = (l: LineKey) => `${l.instanceId}\u0000${l.plan}\u0000${l.meter}`;

/**
 * Brings the owner's invoice for `period` in line with the ledger and returns the draft to issue,
 * or null when there is nothing (new) to bill. With no issued invoice yet, the draft has one usage
 * line per instance × plan × meter; once one is issued, a later draft holds only adjustment lines
 * for what changed since. Serialised per owner and period (advisory lock), numbered per period.
 * A line's `seconds` is its quantity: seconds for time meters, byte-hours (the hourly ledger rows'
 * bytes, summed) for backup storage, whose unit price is per GB-month.
 */
export async function draftInvoice(db: Database, owner: string, period: string, currency: string): Promise<string | null> {
  const { start, end } = periodBounds(period);
  const prices = new Map((await listPlans(db)).map((p) => [p.name, p]));
  return db.transaction(async (tx) => {
    await lockKey(tx, `invoice:${owner}:${period}`);
    const totals = await tx
      .select({
        instanceId: usageLedger.instanceId,
        slug: instances.slug,
        plan: usageLedger.plan,
        meter: usageLedger.meter,
        seconds: sql<string>`sum(${usageLedger.quantity})`,
      })
      .from(usageLedger)
      .innerJoin(instances, eq(instances.id, usageLedger.instanceId))
      .where(
        and(
          eq(instances.ownerEmail, owner),
          inArray(usageLedger.meter, [...invoicedMeters]),
          sql`${usageLedger.hour} >= ${start.toISOString()}`,
          lt(usageLedger.hour, end),
        ),
      )
      .groupBy(usageLedger.instanceId, instances.slug, usageLedger.plan, usageLedger.meter);
    const existing = await tx
      .select()
      .from(invoices)
      .where(and(eq(invoices.ownerEmail, owner), eq(invoices.period, period)));
    const issuedIds = existing.filter((i) => i.status === 'issued').map((i) => i.id);
    const billed = new Map<string, { key: LineKey; seconds: number; amount: number }>();
    if (issuedIds.length > 0) {
      for (const l of await tx.select().from(invoiceLines).where(inArray(invoiceLines.invoiceId, issuedIds))) {
        const key: LineKey = { instanceId: l.instanceId, slug: l.slug, plan: l.plan, meter: l.meter as LineKey['meter'] };
        const entry = billed.get(keyOf(key)) ?? { key, seconds: 0, amount: 0 };
        entry.seconds += l.seconds;
        entry.amount += l.amountCents;
        billed.set(keyOf(key), entry);
      }
    }
    const unitPrice = (k: LineKey) => unitPriceCents(k.meter, prices.get(k.plan));
    const price = (k: LineKey, quantity: number) => lineAmountCents(k.meter, quantity, prices.get(k.plan));

    const lines: Omit<InvoiceLineRow, 'invoiceId' | 'position'>[] = [];
    const current = new Map(totals.map((t) => [keyOf(t as LineKey), { key: t as LineKey, seconds: Number(t.seconds) }]));
    for (const k of new Set([...current.keys(), ...billed.keys()])) {
      const now = current.get(k);
      const before = billed.get(k);
      const key = (now ?? before)!.key;
      const seconds = (now?.seconds ?? 0) - (before?.seconds ?? 0);
      const amount = price(key, now?.seconds ?? 0) - (before?.amount ?? 0);
      if (seconds === 0 && amount === 0) continue;
      lines.push({ kind: issuedIds.length ? 'adjustment' : 'usage', ...key, seconds, unitPriceCents: unitPrice(key), amountCents: amount });
    }
    // Per instance and plan: running, suspended, then backup storage.
    const meterOrder = (m: Meter) => invoicedMeters.indexOf(m as LineKey['meter']);
    lines.sort((a, b) => a.slug.localeCompare(b.slug) || a.plan.localeCompare(b.plan) || meterOrder(a.meter) - meterOrder(b.meter));

    let draft = existing.find((i) => i.status === 'draft');
    if (lines.length === 0 && !draft) return null;
    const subtotalCents = lines.reduce((s, l) => s + l.amountCents, 0);
    if (draft) {
      await tx.delete(invoiceLines).where(eq(invoiceLines.invoiceId, draft.id));
      await tx.update(invoices).set({ subtotalCents }).where(eq(invoices.id, draft.id));
    } else {
      draft = await insertInvoice(tx, { owner, period, currency, subtotalCents });
    }
    if (lines.length > 0) await tx.insert(invoiceLines).values(lines.map((l, i) => ({ ...l, invoiceId: draft!.id, position: i + 1 })));
    return draft.id;
  });
}

/** A new draft numbered INV-YYYYMM-NNNN, the next number of its period. */
async function insertInvoice(tx: Transaction, i: { owner: string; period: string; currency: string; subtotalCents: number }): Promise<InvoiceRow> {
  await lockKey(tx, `invoice-number:${i.period}`);
  const [{ count } = { count: 0 }] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(invoices)
    .where(eq(invoices.period, i.period));
  const number = `INV-${i.period.replace('-', '')}-${String(count + 1).padStart(4, '0')}`;
  const [row] = await tx
    .insert(invoices)
    .values({ id: newId('inv'), number, ownerEmail: i.owner, period: i.period, status: 'draft', currency: i.currency, subtotalCents: i.subtotalCents })
    .returning();
  return row!;
}

/** draft → issued; issuing an issued invoice changes nothing. */
export async function issueInvoice(db: Database, id: string): Promise<InvoiceRow | undefined> {
  await db.update(invoices).set({ status: 'issued', issuedAt: sql`now()` }).where(and(eq(invoices.id, id), eq(invoices.status, 'draft')));
  const [row] = await db.select().from(invoices).where(eq(invoices.id, id));
  return row;
}

/** An invoice with its lines; one billed to another owner than `scope`'s is not found. */
export async function getInvoice(db: Database, id: string, scope: Scope = {}): Promise<{ invoice: InvoiceRow; lines: InvoiceLineRow[] } | undefined> {
  const [invoice] = await db
    .select()
    .from(invoices)
    .where(and(eq(invoices.id, id), scope.owner === undefined ? undefined : eq(invoices.ownerEmail, scope.owner)));
  if (!invoice) return undefined;
  const lines = await db.select().from(invoiceLines).where(eq(invoiceLines.invoiceId, id)).orderBy(asc(invoiceLines.position));
  return { invoice, lines };
}

/** A page of invoices, newest first (ids sort by creation time); `after` is the last id of the previous page. */
export async function listInvoices(
  db: Database,
  q: { owner?: string; period?: string; limit: number; after?: string },
  scope: Scope = {},
): Promise<{ items: InvoiceRow[]; more: boolean }> {
  const rows = await db
    .select()
    .from(invoices)
    .where(
      and(
        scope.owner === undefined ? undefined : eq(invoices.ownerEmail, scope.owner),
        q.owner ? eq(invoices.ownerEmail, q.owner) : undefined,
        q.period ? eq(invoices.period, q.period) : undefined,
        q.after ? lt(invoices.id, q.after) : undefined,
      ),
    )
    .orderBy(desc(invoices.id))
    .limit(q.limit + 1);
  return { items: rows.slice(0, q.limit), more: rows.length > q.limit };
}

