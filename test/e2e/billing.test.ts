// Billing end to end through the HTTP API against the real testbed: an instance runs, changes
// plan, is suspended and resumed, and its usage follows each phase within seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';

let stack: Stack;
const slug = `bill-${uniqueSuffix()}`;

beforeAll(async () => {
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '30' });
});
afterAll(async () => {
  if (stack) {
    const gone = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    if (gone.status === 202) await stack.api.settled(gone.body.operation.id);
    await stack.stop();
  }
});

interface Line {
  meter: string;
  plan: string;
  quantity: number;
  amountCents: number;
}

async function usage(): Promise<Line[]> {
  const res = await stack.api.call('GET', `/v1/instances/${slug}/usage`);
  expect(res.status).toBe(200);
  return res.body.lines;
}
const seconds = (lines: Line[], meter: string, plan: string) => lines.find((l) => l.meter === meter && l.plan === plan)?.quantity ?? 0;

async function run(method: string, path: string, body?: unknown): Promise<{ status: string; error?: string }> {
  const res = await stack.api.call(method, path, body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return stack.api.settled(res.body.operation ? res.body.operation.id : res.body.id);
}

/** Waits until `check` holds (usage grows with wall time). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('plans, usage and change plan', () => {
  it('bills a running instance on its plan, then on the new plan after a change, suspended time apart, and refuses nonsense', async () => {
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Billing Ltd', slug, plan: 'starter', ownerEmail: 'billing@example.com' });
    expect(created.status).toBe(202);
    expect((await stack.api.settled(created.body.operation.id)).status).toBe('succeeded');
    // Provisioning is not billed; ready time is, from the moment it is ready.
    await eventually(async () => seconds(await usage(), 'running_seconds', 'starter') >= 2);

    expect((await stack.api.call('POST', `/v1/instances/${slug}/plan`, { plan: 'nope' })).status).toBe(422);
    expect((await stack.api.call('POST', `/v1/instances/${slug}/plan`, { plan: 'starter' })).status).toBe(409);

    const changed = await run('POST', `/v1/instances/${slug}/plan`, { plan: 'standard' });
    expect(changed, JSON.stringify(changed)).toMatchObject({ status: 'succeeded' });
    const { body: instance } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(instance).toMatchObject({ plan: 'standard', status: 'ready' });
    await eventually(async () => seconds(await usage(), 'running_seconds', 'standard') >= 2);
    const starterSoFar = seconds(await usage(), 'running_seconds', 'starter');

    expect((await run('POST', `/v1/instances/${slug}/suspend`)).status).toBe('succeeded');
    await eventually(async () => seconds(await usage(), 'suspended_seconds', 'standard') >= 2);
    // A suspended instance may change plan too: it gets the new quota and stays suspended.
    expect((await run('POST', `/v1/instances/${slug}/plan`, { plan: 'starter' })).status).toBe('succeeded');
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ plan: 'starter', status: 'suspended' });
    const runningBefore = seconds(await usage(), 'running_seconds', 'standard');
    await eventually(async () => seconds(await usage(), 'suspended_seconds', 'starter') >= 2);
    // Suspended time is not running time.
    expect(seconds(await usage(), 'running_seconds', 'standard')).toBe(runningBefore);

    expect((await run('POST', `/v1/instances/${slug}/resume`)).status).toBe('succeeded');
    await eventually(async () => seconds(await usage(), 'running_seconds', 'starter') >= starterSoFar + 2);
    const lines = await usage();
    expect(lines.map((l) => `${l.meter}/${l.plan}`).sort()).toEqual(
      expect.arrayContaining(['running_seconds/standard', 'running_seconds/starter', 'suspended_seconds/standard', 'suspended_seconds/starter']),
    );
    const res = await stack.api.call('GET', `/v1/instances/${slug}/usage`);
    expect(res.body.totalCents).toBe(res.body.lines.reduce((s: number, l: Line) => s + l.amountCents, 0));
  }, 300_000);
});
