// Upgrade against the real testbed with the real activities: a failure injected after each
// step's side effect, and a cancel caught by each step while it works, must each end in the
// documented state (README, "What an operation does"), checked in the catalogue and in Kubernetes,
// Route 53 and Postgres. One provisioned instance serves every case whose end state allows the
// next case to start. (Each kind has a file of its own so that they run side by side.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cases, expectInjected, expectWhole, plan, realSagaFile, version } from '../support/real-saga';

const { ops, pointExercised, readyInstance, tearDown, expectDeployment } = realSagaFile('upgrade', { SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '10' });

describe('upgrade', () => {
  let slug: string;
  let n = 0;
  beforeAll(async () => {
    slug = await readyInstance('rsu');
  });
  afterAll(() => tearDown(slug));

  it.each(cases('upgrade'))('%s at "%s" (%s) → restored: instance ready at the old version', async (mode, step, activity) => {
    const outcome = await ops().operate(slug, 'upgrade', { request: { version: `1.1.${n++}` }, injection: { activity, mode } });
    expectInjected(outcome, mode, step);
    // Before the claim is through nothing has changed: there is nothing to roll back.
    const claim = step === 'record upgrading';
    expect(outcome.operation.status).toBe(mode === 'cancel' ? 'cancelled' : claim ? 'failed' : 'rolled_back');
    expect(outcome.operation.steps.filter((s) => s.name.includes('previous')).map((s) => s.status)).toEqual(claim ? ['pending', 'pending'] : ['done', 'done']);
    expect(outcome.instance).toMatchObject({ status: 'ready', version });
    await expectDeployment(slug, { image: version, replicas: plan.replicas });
    expectWhole(await ops().world.read(slug));
    pointExercised();
  });

  // The way back has side effects too. A version that never becomes ready makes the rollback run.
  it.each([
    ['restore previous version', 'applyWorkload'],
    ['wait for previous version', 'waitForRollout'],
  ] as const)('fail-after at "%s" (%s, during the rollback) → instance failed; a later upgrade repairs it', async (step, activity) => {
    const outcome = await ops().operate(slug, 'upgrade', {
      request: { version: `fail-2.0.${n++}` },
      injection: { activity, mode: 'fail-after', call: 2 },
    });
    expectInjected(outcome, 'fail-after', step);
    expect(outcome.operation.steps.find((s) => s.name === 'wait for rollout')?.status).toBe('failed');
    expect(outcome.operation.status).toBe('failed');
    // The rollback did not finish: the catalogue does not claim the instance is serving.
    expect(outcome.instance.status).toBe('failed');
    // What the restore applied stays: the old version, which rolls out on its own.
    await expectDeployment(slug, { image: version, replicas: plan.replicas });
    pointExercised();

    // A failed instance with a workload can be upgraded, and that makes it ready again.
    const repaired = await ops().operate(slug, 'upgrade', { request: { version } });
    expect(repaired.operation.status, repaired.operation.error ?? '').toBe('succeeded');
    expect(repaired.instance).toMatchObject({ status: 'ready', version });
  });
});
