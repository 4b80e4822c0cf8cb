// Invoicing against the real catalogue and Temporal (real activities): invoices per owner that
// add up to the cent across instances and a plan change, reruns that add adjustments only when
// the ledger changed, and the JSON, CSV and HTML views.
import '../support/temporal-runtime';
import { randomInt } from 'node:crypto';
import { prebuiltWorkflowBundle } from '../support/build';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { newId } from '../../db/ids';
import { insertInstanceWithOperation } from '../../db/operations';
import { periodBounds } from '../../db/invoices';
import * as metering from '../../db/metering';
import { usageLedger } from '../../db/schema';
import { HOUR_MS } from '../../domain/metering';
import { createWorker } from '../../worker/index';
import { meteringScheduleId } from '../../domain/schedules';
import { testbedDeps } from '../activities/testbed-deps';
import { startHarness, type Harness } from '../api/harness';
import { uniqueSuffix } from '../support/config';
import { startReceiver, verifySignature } from '../support/receiver';

let h: Harness;
const deps = testbedDeps();
// A month of its own, so reruns of this file never meet each other's invoices.
const period = `${1990 + randomInt(30)}-${String(1 + randomInt(12)).padStart(2, '0')}`;
const { start } = periodBounds(period);
const hour = (n: number) => new Date(start.getTime() + n * HOUR_MS);

beforeAll(async () => {
  h = await startHarness();
  // Metering has closed the period.
  await metering.setMeteringCursor(h.db, meteringScheduleId(h.config), periodBounds(period).end);
});
afterAll(async () => {
  await h?.close();
  await deps.tenantDb.end();
});

async function instance(owner: string) {
  const slug = h.slug('inv');
  const id = newId('ins');
  await insertInstanceWithOperation(
    h.db,
    { id, slug, name: slug, plan: 'starter', version: '1.0.0', ownerEmail: owner },
    { id: newId('op'), instanceId: id, kind: 'provision', workflowId: `instance:${slug}`, actor: 'test' },
  );
  return id;
}

type Ledger = [instanceId: string, meter: 'running_seconds' | 'suspended_seconds', plan: string, hour: number, seconds: number];
const addLedger = (rows: Ledger[]) =>
  h.db.insert(usageLedger).values(rows.map(([instanceId, meter, plan, n, quantity]) => ({ instanceId, meter, plan, hour: hour(n), quantity })));

async function invoiceRun() {
  const { worker, connection } = await createWorker(h.config, createActivities({ ...deps, db: h.db, temporal: h.temporal, config: h.config }), {
    workflowBundle: prebuiltWorkflowBundle,
  });
  try {
    return await worker.runUntil(async () => {
      const accepted = await h.call('admin', { method: 'POST', url: '/v1/invoices/runs', payload: { period } });
      expect(accepted.statusCode, accepted.body).toBe(202);
      return h.temporal.workflow.getHandle(accepted.json().workflowId).result();
    });
  } finally {
    await connection.close();
  }
}

const invoicesOf = async (owner: string) =>
  (await h.call('viewer', { method: 'GET', url: `/v1/invoices?owner=${encodeURIComponent(owner)}&period=${period}` })).json().items;

describe('invoices', () => {
  const alice = `alice-${uniqueSuffix()}@example.com`;
  const bob = `bob-${uniqueSuffix()}@example.com`;
  let a: string;

  it('bill each owner once per period, lines per instance × plan × meter, adding up to the cent', async () => {
    a = await instance(alice);
    const b = await instance(alice);
    const c = await instance(bob);
    // a: 10 h on starter, a plan change half-way through hour 10, then 5 h on standard.
    // b: 2 h running on pro, then 3 h suspended. c: 1 h on starter.
    await addLedger([
      ...Array.from({ length: 10 }, (_, i): Ledger => [a, 'running_seconds', 'starter', i, 3600]),
      [a, 'running_seconds', 'starter', 10, 1800],
      [a, 'running_seconds', 'standard', 10, 1800],
      ...Array.from({ length: 5 }, (_, i): Ledger => [a, 'running_seconds', 'standard', 11 + i, 3600]),
      [b, 'running_seconds', 'pro', 0, 3600],
      [b, 'running_seconds', 'pro', 1, 3600],
      ...Array.from({ length: 3 }, (_, i): Ledger => [b, 'suspended_seconds', 'pro', 2 + i, 3600]),
      [c, 'running_seconds', 'starter', 0, 3600],
    ]);
    const result = await invoiceRun();
    expect(result.invoices).toHaveLength(2);

    const [summary, ...others] = await invoicesOf(alice);
    expect(others).toEqual([]);
    expect(summary).toMatchObject({ ownerEmail: alice, period, status: 'issued', currency: 'USD', number: expect.stringMatching(/^INV-\d{6}-\d{4}$/) });
    expect(summary.number.slice(4, 10)).toBe(period.replace('-', ''));
    const invoice = (await h.call('viewer', { method: 'GET', url: `/v1/invoices/${summary.id}` })).json();
    const lines = invoice.lines.map((l: any) => [l.instanceId === a ? 'a' : 'b', l.plan, l.meter, l.hours, l.unitPriceCents, l.amountCents, l.kind]);
    expect(lines).toEqual(
      expect.arrayContaining([
        ['a', 'starter', 'running_seconds', '10.5000', 5, 53, 'usage'], // 52.5 → 53
        ['a', 'standard', 'running_seconds', '5.5000', 15, 83, 'usage'], // 82.5 → 83
        ['b', 'pro', 'running_seconds', '2.0000', 40, 80, 'usage'],
        ['b', 'pro', 'suspended_seconds', '3.0000', 4, 12, 'usage'],
      ]),
    );
    expect(lines).toHaveLength(4);
    expect(invoice.subtotalCents).toBe(53 + 83 + 80 + 12);
    expect((await invoicesOf(bob))[0]).toMatchObject({ subtotalCents: 5, status: 'issued' });
  }, 60_000);

  it('a rerun with an unchanged ledger adds nothing; one after the ledger changed adds an adjustment invoice only', async () => {
    await invoiceRun();
    const [first, ...none] = await invoicesOf(alice);
    expect(none).toEqual([]);
    const before = (await h.call('viewer', { method: 'GET', url: `/v1/invoices/${first.id}` })).json();

    // An hour that reached the ledger late (a backfill): one more hour on standard.
    await addLedger([[a, 'running_seconds', 'standard', 16, 3600]]);
    await invoiceRun();
    const [adjustment, original] = await invoicesOf(alice);
    expect(original.id).toBe(first.id);
    expect((await h.call('viewer', { method: 'GET', url: `/v1/invoices/${first.id}` })).json()).toEqual(before);
    const adjusted = (await h.call('viewer', { method: 'GET', url: `/v1/invoices/${adjustment.id}` })).json();
    expect(adjusted).toMatchObject({ status: 'issued', subtotalCents: 98 - 83 });
    expect(adjusted.lines).toEqual([expect.objectContaining({ kind: 'adjustment', plan: 'standard', seconds: 3600, hours: '1.0000', amountCents: 15 })]);
    expect(adjusted.number).not.toBe(first.number);
  }, 60_000);

  it('sends invoice.issued, signed, to the webhooks that subscribe to it, once per invoice', async () => {
    const receiver = await startReceiver();
    const created = await h.call('admin', { method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url, events: ['invoice.issued'] } });
    expect(created.statusCode, created.body).toBe(201);
    const { webhook, secret: signingSecret } = created.json();
    const carol = `carol-${uniqueSuffix()}@example.com`;
    const id = await instance(carol);
    await addLedger([[id, 'running_seconds', 'starter', 2, 1800]]);
    try {
      const { worker, connection } = await createWorker(h.config, createActivities({ ...deps, db: h.db, temporal: h.temporal, config: h.config }), {
        workflowBundle: prebuiltWorkflowBundle,
      });
      try {
        await worker.runUntil(async () => {
          const accepted = await h.call('admin', { method: 'POST', url: '/v1/invoices/runs', payload: { period } });
          expect(accepted.statusCode, accepted.body).toBe(202);
          await h.temporal.workflow.getHandle(accepted.json().workflowId).result();
          await expect.poll(() => receiver.received.filter((r) => r.body.includes(carol)).length, { timeout: 60_000, interval: 200 }).toBe(1);
        });
      } finally {
        await connection.close();
      }
      const [delivery] = receiver.received.filter((r) => r.body.includes(carol));
      expect(delivery!.headers['shipyard-event']).toBe('invoice.issued');
      expect(verifySignature(signingSecret, delivery!.headers['shipyard-signature'] as string, delivery!.body)).toBe(true);
      const [issued] = await invoicesOf(carol);
      expect(JSON.parse(delivery!.body)).toMatchObject({ type: 'invoice.issued', data: { invoice: { id: issued.id, number: issued.number, ownerEmail: carol, period } } });
    } finally {
      await h.call('admin', { method: 'DELETE', url: `/v1/webhooks/${webhook.id}` });
      await receiver.close();
    }
  });

  it('shows an invoice as CSV lines and as a printable page', async () => {
    const [invoice] = await invoicesOf(bob);
    const csv = await h.call('viewer', { method: 'GET', url: `/v1/invoices/${invoice.id}.csv` });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const [header, row, ...rest] = csv.body.trim().split('\n');
    expect(header).toBe('invoice,position,kind,instance,slug,plan,meter,seconds,hours,unit_price_cents,amount_cents,currency');
    expect(row).toMatch(new RegExp(`^${invoice.number},1,usage,ins_[0-9a-z]+,inv-[0-9a-f]+,starter,running_seconds,3600,1.0000,5,5,USD$`));
    expect(rest).toEqual([]);
    const page = await h.call('viewer', { method: 'GET', url: `/v1/invoices/${invoice.id}.html` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain(`Invoice ${invoice.number}`);
    expect(page.body).toContain('0.05 USD');
  });

  it('refuses to invoice a period that is not metered to its end, and an unknown invoice', async () => {
    const res = await h.call('admin', { method: 'POST', url: '/v1/invoices/runs', payload: { period: '2999-01' } });
    expect(res.statusCode).toBe(409);
    expect(res.json().detail).toMatch(/not closed/);
    expect((await h.call('operator', { method: 'POST', url: '/v1/invoices/runs', payload: { period } })).statusCode).toBe(403);
    expect((await h.call('viewer', { method: 'GET', url: '/v1/invoices/inv_nope' })).statusCode).toBe(404);
  });
});
