// Requests racing for one instance: of ten concurrent creates with one slug, and of ten concurrent
// upgrades of one ready instance, exactly one is accepted; the others get a 409 and leave nothing
// behind. The catalogue (unique slug; one running operation per instance, inserted under the
// instance row's lock) decides, not the order the requests happen to be read in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInstance } from '../../db/instances';
import { listOperations } from '../../db/operations';
import { type Harness, startHarness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const ten = Array.from({ length: 10 }, (_, i) => i);
const byStatus = (responses: { statusCode: number }[]) => responses.map((r) => r.statusCode).sort();

describe('concurrent requests on one instance', () => {
  it('ten creates with one slug: one 202, nine 409, one instance with one operation', async () => {
    const slug = h.slug('race');
    const responses = await Promise.all(
      ten.map((i) =>
        h.call('operator', {
          method: 'POST',
          url: '/v1/instances',
          payload: { name: `Racer ${i}`, slug, plan: 'starter', ownerEmail: `racer${i}@example.com` },
        }),
      ),
    );
    expect(byStatus(responses)).toEqual([202, ...ten.slice(1).map(() => 409)]);
    const winner = responses.find((r) => r.statusCode === 202)!.json();
    for (const refused of responses.filter((r) => r.statusCode === 409)) {
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.json()).toMatchObject({ status: 409, errors: [{ field: 'slug', message: 'is taken' }] });
    }
    const found = (await findInstance(h.db, slug))!;
    expect(found.instance).toMatchObject({ id: winner.instance.id, name: winner.instance.name });
    expect((await listOperations(h.db, found.instance.id, { limit: 100 })).items.map((op) => op.id)).toEqual([winner.operation.id]);
  });

  it('ten upgrades of one ready instance: one 202, nine 409 naming the running upgrade', async () => {
    const ready = await h.settledInstance('ready');
    const responses = await Promise.all(
      ten.map((i) => h.call('operator', { method: 'POST', url: `/v1/instances/${ready.slug}/upgrade`, payload: { version: `2.0.${i}` } })),
    );
    expect(byStatus(responses)).toEqual([202, ...ten.slice(1).map(() => 409)]);
    const accepted = responses.find((r) => r.statusCode === 202)!.json().operation;
    expect(accepted).toMatchObject({ kind: 'upgrade', status: 'running', instanceId: ready.id });
    for (const refused of responses.filter((r) => r.statusCode === 409)) {
      expect(refused.json()).toMatchObject({
        status: 409,
        operation: { id: accepted.id, kind: 'upgrade' },
        detail: expect.stringContaining(accepted.id),
      });
    }
    const upgrades = (await listOperations(h.db, ready.id, { limit: 100 })).items.filter((op) => op.kind === 'upgrade');
    expect(upgrades.map((op) => ({ id: op.id, status: op.status }))).toEqual([{ id: accepted.id, status: 'running' }]);
    const shown = await h.call('viewer', { method: 'GET', url: `/v1/instances/${ready.slug}` });
    expect(shown.json()).toMatchObject({ status: 'upgrading', currentOperation: { id: accepted.id } });
  });
});
