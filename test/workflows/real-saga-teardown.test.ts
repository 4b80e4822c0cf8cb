// Teardown against the real testbed with the real activities: a failure injected after each
// step's side effect, and a cancel caught by each step while it works, must each end in the
// documented state (README, "What an operation does"), checked in the catalogue and in Kubernetes,
// Route 53 and Postgres. One provisioned instance serves every case whose end state allows the
// next case to start. (Each kind has a file of its own so that they run side by side.)
import { beforeAll, describe, expect, it } from 'vitest';
import type { World } from '../support/world';
import { modes, stepActivities } from '../support/real-operations';
import { expectInjected, realSagaFile } from '../support/real-saga';
import { nothingLeft } from '../support/world';

const { ops, pointExercised, readyInstance, tearDown, expectDeployment } = realSagaFile('teardown', { SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '15' });

/** What each teardown step removes, as seen in the world. */
const removedBy: Record<Exclude<keyof typeof stepActivities.teardown, 'record deleting'>, (w: World) => boolean> = {
  'delete ingress': (w) => w.ingresses.length === 0,
  'delete certificate': (w) => w.certificates.length === 0,
  'delete DNS record': (w) => w.dnsRecords.length === 0,
  'delete namespace': (w) => !w.namespace,
  'drop database': (w) => !w.database && !w.role,
};

describe.each(modes)('teardown, %s at each delete', (mode) => {
  // Each failed teardown leaves the instance `failed`; the next one starts from there and meets
  // the next injection, so one instance walks through every step. The last teardown finishes.
  let slug: string;
  beforeAll(async () => {
    slug = await readyInstance(mode === 'cancel' ? 'rstc' : 'rstf');
  });

  it.each(Object.entries(stepActivities.teardown))(`${mode} at "%s" (%s) → instance failed (back where it was at the claim), everything before it gone`, async (step, activity) => {
    const outcome = await ops().operate(slug, 'teardown', { injection: { activity, mode } });
    expectInjected(outcome, mode, step);
    expect(outcome.operation.status).toBe(mode === 'cancel' ? 'cancelled' : 'failed');
    // A teardown stopped at its claim removed nothing: the instance is back where it was (ready, the first case).
    expect(outcome.instance.status).toBe(step === 'record deleting' ? 'ready' : 'failed');
    const w = await ops().world.readSettled(slug);
    const names = Object.keys(removedBy) as (keyof typeof removedBy)[];
    const upTo = names.indexOf(step as keyof typeof removedBy);
    expect(names.map((s) => removedBy[s](w))).toEqual(names.map((_, i) => i <= upTo));
    pointExercised();
  });

  it('a teardown of the failed instance then finishes: deleted, nothing left', async () => {
    const { operation, instance } = await ops().operate(slug, 'teardown');
    expect(operation.status, operation.error ?? '').toBe('succeeded');
    expect(instance.status).toBe('deleted');
    expect(await ops().world.readSettled(slug)).toMatchObject(nothingLeft);
  });
});
