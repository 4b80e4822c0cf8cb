// Reading operations whose workflow a worker actually runs: live steps from the progress query,
// and runs that close without writing their row (cancelled, or completed by a buggy workflow).
import '../support/temporal-runtime';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markInstance } from '../../db/instances';
import { finishOperation } from '../../db/operations';
import { failureConverterPath, shipyardDataConverter } from '../../temporal/data-converter';
import { liveSteps, waitingDetail } from './fixtures/workflows';
import { type Harness, startHarness } from './harness';

let h: Harness;
let bundle: WorkflowBundleWithSourceMap;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  h = await startHarness();
  bundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./fixtures/workflows.ts', import.meta.url)),
    failureConverterPath,
    logger: quiet,
  });
  connection = await NativeConnection.connect({ address: h.config.temporalAddress });
  worker = await Worker.create({
    connection,
    namespace: h.config.temporalNamespace,
    taskQueue: h.config.taskQueue,
    workflowBundle: bundle,
    dataConverter: shipyardDataConverter(h.config),
    activities: {
      async scaleAgainstBrokenApi() {
        throw new Error('kube-apiserver unavailable');
      },
      async waitSayingWhy() {
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat({ detail: waitingDetail, deadlineMs: 0 });
          await ctx.sleep(200);
        }
      },
    },
    shutdownGraceTime: '1s',
  });
  running = worker.run();
});

afterAll(async () => {
  if (worker) {
    worker.shutdown();
    await running;
  }
  await connection?.close();
  await h?.close();
});

/** Polls `read` until `done` holds; bounded, so a broken API fails the test instead of hanging it. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const getOperation = async (id: string) => (await h.call('viewer', { method: 'GET', url: `/v1/operations/${id}` })).json();

/** An instance the catalogue knows as `ready`, its provision's run ended, so a next operation may start. */
async function readyInstance(prefix: string): Promise<string> {
  const slug = h.slug(prefix);
  const created = await h.call('operator', {
    method: 'POST',
    url: '/v1/instances',
    payload: { name: prefix, slug, plan: 'starter', ownerEmail: 'o@example.com' },
  });
  const { instance, operation } = created.json();
  await h.terminate(slug);
  await finishOperation(h.db, operation.id, { status: 'succeeded', steps: [] });
  await markInstance(h.db, instance.id, { status: 'ready' });
  return slug;
}

describe('a running operation', () => {
  it('shows live steps from the workflow, and ends cancelled when cancelled', async () => {
    const slug = h.slug('live');
    const created = await h.call('operator', {
      method: 'POST',
      url: '/v1/instances',
      payload: { name: 'Live', slug, plan: 'starter', ownerEmail: 'o@example.com' },
    });
    expect(created.statusCode).toBe(202);
    const { operation } = created.json();

    const live = await until(() => getOperation(operation.id), (op) => op.steps.length > 0);
    expect(live).toMatchObject({ status: 'running', steps: liveSteps });
    const instance = (await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}` })).json();
    expect(instance.currentOperation.steps).toEqual(liveSteps);

    expect((await h.call('operator', { method: 'POST', url: `/v1/operations/${operation.id}/cancel` })).statusCode).toBe(202);
    const ended = await until(() => getOperation(operation.id), (op) => op.status !== 'running');
    expect(ended).toMatchObject({ status: 'cancelled', endedAt: expect.any(String) });
  });

  it('that completed without recording its result is reported failed, not running', async () => {
    const slug = await readyInstance('buggy');

    const upgrade = await h.call('operator', { method: 'POST', url: `/v1/instances/${slug}/upgrade`, payload: { version: '9.9.9' } });
    expect(upgrade.statusCode).toBe(202);
    const ended = await until(() => getOperation(upgrade.json().operation.id), (op) => op.status !== 'running');
    expect(ended).toMatchObject({ kind: 'upgrade', status: 'failed', error: expect.stringContaining('without recording') });
  });

  it('shows the attempt and last error of a step whose activity Temporal is retrying', async () => {
    const slug = await readyInstance('retry');

    const suspend = await h.call('operator', { method: 'POST', url: `/v1/instances/${slug}/suspend` });
    expect(suspend.statusCode).toBe(202);
    const id = suspend.json().operation.id;
    const retrying = await until(() => getOperation(id), (op) => (op.steps[0]?.attempt ?? 0) >= 3);
    expect(retrying.steps[0]).toMatchObject({
      name: 'scale to zero',
      status: 'running',
      attempt: expect.any(Number),
      error: 'retrying after: kube-apiserver unavailable',
    });
    expect(retrying.steps[0].attempt).toBeGreaterThanOrEqual(3);
    expect((await h.call('operator', { method: 'POST', url: `/v1/operations/${id}/cancel` })).statusCode).toBe(202);
  });

  it('shows what the running step waits for, from its activity\'s last heartbeat', async () => {
    const slug = await readyInstance('waiting');

    const teardown = await h.call('operator', { method: 'DELETE', url: `/v1/instances/${slug}` });
    expect(teardown.statusCode).toBe(202);
    const id = teardown.json().operation.id;
    const waiting = await until(() => getOperation(id), (op) => op.steps[0]?.detail !== undefined);
    expect(waiting.steps).toEqual([{ name: 'delete namespace', status: 'running', attempt: 1, detail: waitingDetail }]);
    const instance = (await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}` })).json();
    expect(instance.currentOperation.steps[0].detail).toBe(waitingDetail);
    expect((await h.call('operator', { method: 'POST', url: `/v1/operations/${id}/cancel` })).statusCode).toBe(202);
  });
});
