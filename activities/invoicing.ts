// Invoicing's I/O, all on the catalogue. Safe to repeat: a draft is brought in line with the
// ledger again, and issuing an issued invoice changes nothing.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import * as invoices from '../db/invoices';
import { firstUnmeteredHour } from '../db/metering';
import type { ActivityDeps } from './deps';
import { publishWebhookEvent } from './webhooks';

export function createInvoicingActivities(deps: Pick<ActivityDeps, 'db' | 'config' | 'temporal'>) {
  const { db, config } = deps;
  return {
    /**
     * Owners to invoice for `period`. Fails (retryably: metering will get there) while the
     * period's last hour is not metered, so no invoice is drawn from a ledger still filling.
     */
    async ownersToInvoice(period: string, meteringCursor: string): Promise<{ owner: string; account: string }[]> {
      const meteredUntil = await firstUnmeteredHour(db, meteringCursor);
      if (meteredUntil < invoices.periodBounds(period).end) {
        throw ApplicationFailure.retryable(`period ${period} is metered only until ${meteredUntil.toISOString()}`, 'PeriodNotMetered');
      }
      return (await invoices.ownersWithUsage(db, period)).map((owner) => ({ owner, account: billingAccountId(owner) }));
    },

    async draftInvoice(owner: string, period: string): Promise<string | null> {
      return invoices.draftInvoice(db, owner, period, config.currency);
    },

    /** draft → issued, and `invoice.issued` to subscribed webhooks (keyed by the invoice: a retry sends nothing twice). */
    async issueInvoice(invoiceId: string): Promise<{ number: string }> {
      const row = await invoices.issueInvoice(db, invoiceId);
      if (!row) throw ApplicationFailure.nonRetryable(`invoice ${invoiceId} is not in the catalogue`, 'CatalogueRowMissing');
      await publishWebhookEvent(deps, {
        key: `${invoiceId}:issued`,
        type: 'invoice.issued',
        data: {
          invoice: {
            id: row.id,
            number: row.number,
            ownerEmail: row.ownerEmail,
            period: row.period,
            currency: row.currency,
            subtotalCents: row.subtotalCents,
            issuedAt: row.issuedAt?.toISOString(),
          },
        },
      });
      return { number: row.number };
    },
  };
}

/**
 * The id a billing account (an owner email) goes by in Temporal: workflow ids are readable in
 * the Temporal UI, so they carry this digest, never the email (payloads are encrypted, ids are not).
 */
export function billingAccountId(owner: string): string {
  return createHash('sha256').update(owner.trim().toLowerCase()).digest('hex').slice(0, 20);
}
