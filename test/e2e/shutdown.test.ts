// A worker stopped the way an orchestrator stops it (SIGTERM, as on a rolling update) in the
// middle of a provision: it drains within its bound and exits cleanly, the operation keeps
// running in Temporal, and the next worker finishes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';

const DRAIN_SECONDS = 3;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ SHIPYARD_WORKER_DRAIN_SECONDS: String(DRAIN_SECONDS), SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '20' });
});
afterAll(async () => {
  await stack?.stop();
});

describe('graceful shutdown', () => {
  it('SIGTERM mid-provision: the worker drains and exits 0 within its bound; a new worker finishes the operation', async () => {
    const slug = `term-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Term Signal', slug, plan: 'starter', ownerEmail: 't@term.test' });
    expect(created.status).toBe(202);
    const operationId = created.body.operation.id;

    await stack.api.underWay(operationId);
    const signalled = Date.now();
    const code = await stack.worker.stop('SIGTERM');
    const seconds = (Date.now() - signalled) / 1000;
    console.log(`worker stopped ${seconds.toFixed(1)}s after SIGTERM (drain bound ${DRAIN_SECONDS}s + 10s forced)`);
    expect(code).toBe(0);
    expect(seconds).toBeLessThan(DRAIN_SECONDS + 10);

    // Nobody runs it now, and nothing marked it failed: it waits in Temporal for a worker.
    expect((await stack.api.call('GET', `/v1/operations/${operationId}`)).body.status).toBe('running');

    stack.restartWorker();
    const op = await stack.api.settled(operationId);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');

    const teardown = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    expect((await stack.api.settled(teardown.body.operation.id)).status).toBe('succeeded');
  });

  it('SIGTERM while an activity waits: it gets the drain time, is then cancelled, and the next worker carries on', async () => {
    // A `fail-` version never becomes ready, so "wait for rollout" is reliably in flight.
    const slug = `drain-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Drain Wait', slug, plan: 'starter', ownerEmail: 'd@drain.test', version: 'fail-1.0.0' });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const operationId = created.body.operation.id;
    await expect
      .poll(async () => (await stack.api.call('GET', `/v1/operations/${operationId}`)).body.steps.find((s: { name: string }) => s.name === 'wait for rollout')?.status, {
        timeout: 60_000,
        interval: 100,
      })
      .toBe('running');

    const signalled = Date.now();
    const code = await stack.worker.stop('SIGTERM');
    const seconds = (Date.now() - signalled) / 1000;
    console.log(`worker with an activity in flight stopped ${seconds.toFixed(1)}s after SIGTERM`);
    expect(code).toBe(0);
    expect(seconds).toBeGreaterThanOrEqual(DRAIN_SECONDS - 0.5);
    expect(seconds).toBeLessThan(DRAIN_SECONDS + 10);

    stack.restartWorker();
    // The new worker retries the wait; the version never becomes ready, so the provision is undone.
    const op = await stack.api.settled(operationId);
    expect(op.status, JSON.stringify(op)).toBe('failed');
    expect(op.steps.find((s) => s.name === 'wait for rollout')?.status).toBe('failed');
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body.status).toBe('failed');
  });
});
