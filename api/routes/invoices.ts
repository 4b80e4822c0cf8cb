// Invoices: runs of a period (admin), and the invoices as JSON, CSV lines and a printable page.
import { BYTES_PER_GB, HOURS_PER_MONTH } from '../../domain/invoices';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import * as invoices from '../../db/invoices';
import { firstUnmeteredHour } from '../../db/metering';
import type { InvoiceLineRow, InvoiceRow } from '../../db/invoices';
import { invoicingScheduleId, meteringScheduleId } from '../../domain/schedules';
import type { Scope } from '../../domain/api-keys';
import type { Deps } from '../../lifecycle/deps';
import { Problem, problems } from '../problems';
import { DEFAULT_PAGE_SIZE, IdParams, pageQuery } from '../schemas';

const Period = Type.String({ pattern: invoices.periodPattern, description: 'a calendar month, YYYY-MM (UTC)' });
const invoiceCursor = /^inv_[0-9a-z]{26}$/;

/** A line's quantity as people read it: hours, or GB-months for backup storage (whose `seconds` are byte-hours). */
const hours = (l: { meter: string; seconds: number }) =>
  (l.meter === 'backup_storage_bytes' ? l.seconds / BYTES_PER_GB / HOURS_PER_MONTH : l.seconds / 3600).toFixed(4);

function summary(i: InvoiceRow) {
  return {
    id: i.id,
    number: i.number,
    ownerEmail: i.ownerEmail,
    period: i.period,
    status: i.status,
    currency: i.currency,
    subtotalCents: i.subtotalCents,
    createdAt: i.createdAt.toISOString(),
    ...(i.issuedAt ? { issuedAt: i.issuedAt.toISOString() } : {}),
  };
}

function lineView(l: InvoiceLineRow) {
  return {
    position: l.position,
    kind: l.kind,
    instanceId: l.instanceId,
    slug: l.slug,
    plan: l.plan,
    meter: l.meter,
    seconds: l.seconds,
    hours: hours(l),
    unitPriceCents: l.unitPriceCents,
    amountCents: l.amountCents,
  };
}

const csvField = (v: string | number) => (/[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
const html = (s: string | number) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency}`;

export const invoiceRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  const { db } = deps;

  /** The invoice, if it bills the caller's owner (or the caller sees every owner): else a 404 like one that does not exist. */
  async function found(id: string, scope: Scope) {
    const invoice = await invoices.getInvoice(db, id, scope);
    if (!invoice) throw new Problem(404, `no invoice "${id}"`);
    return invoice;
  }

  app.post(
    '/invoices/runs',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Invoice a closed period (again)',
        description:
          'Runs the invoicing of a period whose every hour is metered: one invoice per owner, `invoice:<owner>:<period>`. ' +
          'Issued invoices are never changed; what the ledger has gained since becomes adjustment lines on a new invoice.',
        tags: ['billing'],
        body: Type.Object({ period: Period }, { additionalProperties: false }),
        response: {
          202: Type.Ref('InvoiceRunAccepted', { description: 'The run started (or was already running)' }),
          ...problems(400, 409),
        },
      },
    },
    async (request, reply) => {
      const { period } = request.body;
      const meteredUntil = await firstUnmeteredHour(db, meteringScheduleId(deps.config));
      if (meteredUntil < invoices.periodBounds(period).end) {
        throw new Problem(409, `period ${period} is not closed: it is metered until ${meteredUntil.toISOString()}`, { type: 'period-open' });
      }
      const workflowId = `${invoicingScheduleId(deps.config)}:${period}`;
      try {
        await deps.temporal.workflow.start('invoicePeriod', {
          workflowId,
          taskQueue: deps.config.taskQueue,
          args: [{ period, meteringCursor: meteringScheduleId(deps.config) }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return reply.code(202).send({ period, workflowId });
    },
  );

  app.get(
    '/invoices',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'Invoices, newest first',
        tags: ['billing'],
        querystring: Type.Object(
          { owner: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })), period: Type.Optional(Period), ...pageQuery },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('InvoicePage', { description: 'A page of invoices (without lines)' }), ...problems(400) },
      },
    },
    async (request) => {
      const { owner, period, limit = DEFAULT_PAGE_SIZE, cursor } = request.query;
      const after = cursor ? Buffer.from(cursor, 'base64url').toString() : undefined;
      if (after !== undefined && !invoiceCursor.test(after)) {
        throw new Problem(400, 'the cursor is not one this API returned', { errors: [{ field: 'cursor', message: 'is invalid' }] });
      }
      // A key bound to an owner lists that owner's invoices only (`owner` naming another: none).
      const page = await invoices.listInvoices(db, { owner, period, limit, after }, request.caller!.scope);
      const last = page.items.at(-1);
      return { items: page.items.map(summary), nextCursor: page.more && last ? Buffer.from(last.id).toString('base64url') : null };
    },
  );

  app.get(
    '/invoices/:id',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'One invoice with its lines',
        tags: ['billing'],
        params: IdParams,
        response: { 200: Type.Ref('Invoice', { description: 'The invoice' }), ...problems(404, 405) },
      },
    },
    async (request, reply) => {
      // `/invoices/runs` is a path of its own (POST only), which this pattern would otherwise take for an id.
      if (request.params.id === 'runs') {
        reply.header('allow', 'POST');
        throw new Problem(405, 'GET is not allowed on /v1/invoices/runs; allowed: POST');
      }
      const { invoice, lines } = await found(request.params.id, request.caller!.scope);
      return { ...summary(invoice), lines: lines.map(lineView) };
    },
  );

  app.get(
    '/invoices/:id.csv',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: "An invoice's lines as CSV",
        tags: ['billing'],
        params: IdParams,
        response: { 200: { description: 'text/csv, one row per line', content: { 'text/csv': { schema: Type.String() } } }, ...problems(404) },
      },
    },
    async (request, reply) => {
      const { invoice, lines } = await found(request.params.id, request.caller!.scope);
      const header = ['invoice', 'position', 'kind', 'instance', 'slug', 'plan', 'meter', 'seconds', 'hours', 'unit_price_cents', 'amount_cents', 'currency'];
      const rows = lines.map((l) =>
        [invoice.number, l.position, l.kind, l.instanceId, l.slug, l.plan, l.meter, l.seconds, hours(l), l.unitPriceCents, l.amountCents, invoice.currency]
          .map(csvField)
          .join(','),
      );
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${invoice.number}.csv"`)
        .send([header.join(','), ...rows].join('\n') + '\n');
    },
  );

  app.get(
    '/invoices/:id.html',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'A printable invoice page',
        tags: ['billing'],
        params: IdParams,
        response: { 200: { description: 'text/html', content: { 'text/html': { schema: Type.String() } } }, ...problems(404) },
      },
    },
    async (request, reply) => {
      const { invoice, lines } = await found(request.params.id, request.caller!.scope);
      const rows = lines
        .map(
          (l) =>
            `<tr><td>${html(l.slug)}</td><td>${html(l.plan)}</td><td>${html(l.meter)}${l.kind === 'adjustment' ? ' (adjustment)' : ''}</td>` +
            `<td class="n">${hours(l)}</td><td class="n">${money(l.unitPriceCents, invoice.currency)}</td><td class="n">${money(l.amountCents, invoice.currency)}</td></tr>`,
        )
        .join('\n');
      const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${html(invoice.number)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.3em;text-align:left}.n{text-align:right}</style></head>
<body><h1>Invoice ${html(invoice.number)}</h1>
<p>Billed to ${html(invoice.ownerEmail)} · period ${html(invoice.period)} · ${html(invoice.status)}${invoice.issuedAt ? ` ${invoice.issuedAt.toISOString().slice(0, 10)}` : ''}</p>
<table><thead><tr><th>instance</th><th>plan</th><th>meter</th><th class="n">hours</th><th class="n">price per hour</th><th class="n">amount</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot><tr><th colspan="5">Subtotal</th><th class="n">${money(invoice.subtotalCents, invoice.currency)}</th></tr></tfoot></table>
</body></html>
`;
      return reply.type('text/html; charset=utf-8').send(page);
    },
  );
};
