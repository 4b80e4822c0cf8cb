// Outbound webhooks end to end, with worker and API as real processes and real receivers: an
// instance's lifecycle events arrive signed; a receiver that fails first gets the event once it
// answers 200, under the same delivery id; a receiver that is down while the worker is killed and
// restarted still gets it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix } from '../support/config';
import { until } from '../support/until';
import { startReceiver, verifySignature, type Receiver, type Received } from '../support/receiver';
import { freePort, startStack, type Stack } from '../support/stack';

let stack: Stack;
const receivers: Receiver[] = [];
const webhookIds: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    SHIPYARD_WEBHOOK_ALLOW_PRIVATE: 'true',
    // Capacity is not what this file tests, and the shared testbed holds every other file's instances too.
    SHIPYARD_OVERCOMMIT_RATIO: '100',
  });
});

afterAll(async () => {
  for (const id of webhookIds) await stack?.api.call('DELETE', `/v1/webhooks/${id}`);
  await stack?.stop();
  await Promise.all(receivers.map((r) => r.close()));
});

async function subscribe(url: string, events: string[]): Promise<{ id: string; secret: string }> {
  const res = await stack.api.call('POST', '/v1/webhooks', { url, events, description: 'e2e receiver' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  webhookIds.push(res.body.webhook.id);
  return { id: res.body.webhook.id, secret: res.body.secret };
}


const deliveries = async (webhookId: string) => (await stack.api.call('GET', `/v1/webhooks/${webhookId}/deliveries`)).body.items as any[];

describe('outbound webhooks', () => {
  it('deliver lifecycle events, signed, at least once, across receiver failures and a worker restart', async () => {
    // A receiver that answers 200: gets instance.ready, signed with its secret.
    const steady = await startReceiver();
    receivers.push(steady);
    const steadyHook = await subscribe(steady.url, ['*']);

    // One that answers 500 to its first two attempts, then 200.
    const flaky = await startReceiver(({ attempt }) => (attempt <= 2 ? 500 : 200));
    receivers.push(flaky);
    const flakyHook = await subscribe(flaky.url, ['instance.ready']);

    // One that is down when the event happens (nothing listens on its port yet).
    const downPort = await freePort();
    const downHook = await subscribe(`http://127.0.0.1:${downPort}/hooks`, ['instance.ready']);

    const slug = `hook-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Webhook Co', slug, plan: 'starter', ownerEmail: 'ops@hook.test' });
    expect(created.status).toBe(202);
    const op = await stack.api.settled(created.body.operation.id);
    expect(op.status).toBe('succeeded');

    // The steady receiver: one request, instance.ready, valid signature, the documented body.
    // Other test files share the catalogue: only requests about this test's instance count.
    const about = (r: Received) => JSON.parse(r.body).data.instance.slug === slug;
    const ready = await until('instance.ready at the steady receiver', async () =>
      steady.received.find((r) => about(r) && r.headers['shipyard-event'] === 'instance.ready'),
    );
    expect(verifySignature(steadyHook.secret, ready.headers['shipyard-signature'] as string, ready.body)).toBe(true);
    expect(verifySignature('not-the-secret', ready.headers['shipyard-signature'] as string, ready.body)).toBe(false);
    const event = JSON.parse(ready.body);
    expect(event).toMatchObject({
      id: ready.headers['shipyard-delivery'],
      type: 'instance.ready',
      createdAt: expect.any(String),
      data: { instance: { slug, status: 'ready' }, operation: { id: op.id, kind: 'provision', status: 'succeeded' } },
    });
    expect(ready.body).not.toContain(steadyHook.secret);

    // The flaky receiver: 500, 500, then 200 — the same delivery id every time, accepted once.
    const flakyOurs = () => flaky.received.filter(about);
    await until('the flaky receiver to accept', async () => (flakyOurs().some((r) => r.status === 200) ? true : undefined), 90_000);
    expect(flakyOurs().map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(flakyOurs().map((r) => r.headers['shipyard-delivery']))).toEqual(new Set([event.id]));
    expect(flakyOurs().every((r) => verifySignature(flakyHook.secret, r.headers['shipyard-signature'] as string, r.body))).toBe(true);
    // The delivery log is written once the answer is in, a moment after the receiver answered.
    const flakyDelivery = await until('the delivery to be logged delivered', async () => {
      const d = (await deliveries(flakyHook.id)).find((x) => x.eventId === event.id);
      return d?.status === 'delivered' ? d : undefined;
    });
    expect(flakyDelivery).toMatchObject({ type: 'instance.ready', status: 'delivered', attempts: 3, lastStatusCode: 200 });

    // The receiver that is down: an attempt has failed; kill the worker, bring the receiver up,
    // start a new worker — the retry still comes.
    const failed = await until('a failed attempt at the receiver that is down', async () => {
      const d = (await deliveries(downHook.id)).find((x) => x.eventId === event.id);
      return d?.attempts >= 1 && d.lastError ? d : undefined;
    });
    expect(failed).toMatchObject({ status: 'pending', lastError: expect.stringMatching(/ECONNREFUSED/) });
    await stack.worker.stop('SIGKILL');
    const revived = await startReceiver(() => 200, downPort);
    receivers.push(revived);
    stack.restartWorker();
    const late = await until('delivery after the worker restart', async () => revived.received.find(about), 120_000);
    expect(late.headers['shipyard-delivery']).toBe(event.id);
    expect(late.headers['shipyard-event']).toBe('instance.ready');
    await until('the delivery log to say delivered', async () =>
      (await deliveries(downHook.id)).find((d) => d.eventId === event.id)?.status === 'delivered' ? true : undefined,
    );

    // Teardown (purged at once in tests): its final backup, the purge and instance.deleted reach the `*` subscriber, and only it.
    const deleted = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    expect(deleted.status).toBe(202);
    expect((await stack.api.settled(deleted.body.operation.id)).status).toBe('succeeded');
    await until('instance.deleted', async () => steady.received.find((r) => about(r) && r.headers['shipyard-event'] === 'instance.deleted'));
    expect(flakyOurs().filter((r) => r.status === 200)).toHaveLength(1);
    await until('every event of the delete', async () => (steady.received.filter(about).length >= 4 ? true : undefined));
    expect(steady.received.filter(about).map((r) => r.headers['shipyard-event']).sort()).toEqual(
      ['backup.completed', 'instance.deleted', 'instance.purged', 'instance.ready'],
    );
  }, 400_000);
});
