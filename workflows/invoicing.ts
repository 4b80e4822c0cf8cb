import { executeChild, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const billing = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  // A period not metered to its end yet is waited for, not failed.
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '10m' },
});

export interface InvoicePeriodInput {
  /** `YYYY-MM`; absent (the schedule), the month before the one the run starts in (UTC). */
  period?: string;
  /** The metering cursor whose ledger is invoiced (the deployment's metering schedule id). */
  meteringCursor: string;
}

/** Invoices at once for at most this many owners; the rest wait for a slot. */
const WINDOW = 10;

/** `account` is the owner's billing account id (a digest of the email: ids are readable in Temporal, the email stays out). */
export const invoiceWorkflowId = (account: string, period: string) => `invoice:${account}:${period}`;

/**
 * One invoicing run of a period: a child workflow per owner, `invoice:<account>:<period>`, so a
 * scheduled run, a rerun and a concurrent manual run all reach the same invoice, never two.
 */
export async function invoicePeriod(input: InvoicePeriodInput): Promise<{ period: string; invoices: string[] }> {
  const period = input.period ?? previousMonth(new Date());
  const owners = await billing.ownersToInvoice(period, input.meteringCursor);
  const issued: string[] = [];
  for (let i = 0; i < owners.length; i += WINDOW) {
    const results = await Promise.all(
      owners.slice(i, i + WINDOW).map(({ owner, account }) =>
        executeChild(invoiceOwner, { workflowId: invoiceWorkflowId(account, period), args: [{ owner, period }] }).catch((err: unknown) => {
          // Another run is invoicing this owner right now: that run makes the invoice.
          // (Matched by name: the SDK's class lives in @temporalio/common, which workflows/ does not import.)
          if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') return { invoiceId: null };
          throw err;
        }),
      ),
    );
    for (const r of results) if (r.invoiceId) issued.push(r.invoiceId);
  }
  return { period, invoices: issued };
}

/** draft → issued for one owner and period; null when the ledger has nothing new to bill. */
export async function invoiceOwner(input: { owner: string; period: string }): Promise<{ invoiceId: string | null; number?: string }> {
  const invoiceId = await billing.draftInvoice(input.owner, input.period);
  if (!invoiceId) return { invoiceId: null };
  const { number } = await billing.issueInvoice(invoiceId);
  return { invoiceId, number };
}

function previousMonth(now: Date): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}
