// Suspend and resume against the real testbed with the real activities: a failure injected after each
// step's side effect, and a cancel caught by each step while it works, must each end in the
// documented state (README, "What an operation does"), checked in the catalogue and in Kubernetes,
// Route 53 and Postgres. One provisioned instance serves every case whose end state allows the
// next case to start. (Each kind has a file of its own so that they run side by side.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cases, expectInjected, expectWhole, plan, realSagaFile, version } from '../support/real-saga';

const { ops, pointExercised, readyInstance, tearDown, expectDeployment } = realSagaFile('suspend/resume', { SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '15' });

describe('suspend and resume', () => {
  let slug: string;
  beforeAll(async () => {
    slug = await readyInstance('rss');
  });
  afterAll(() => tearDown(slug));

  it.each(cases('suspend'))('suspend: %s at "%s" (%s) → instance ready, replicas back', async (mode, step, activity) => {
    const outcome = await ops().operate(slug, 'suspend', { injection: { activity, mode } });
    expectInjected(outcome, mode, step);
    expect(outcome.operation.status).toBe(mode === 'cancel' ? 'cancelled' : 'failed');
    if (step !== 'record suspending') expect(outcome.operation.steps.find((s) => s.name === 'scale to zero')?.status).toMatch(/^(compensated|failed)$/);
    expect(outcome.instance).toMatchObject({ status: 'ready', version });
    await expectDeployment(slug, { image: version, replicas: plan.replicas });
    expectWhole(await ops().world.read(slug));
    pointExercised();
  });

  it('suspends for real, ready for the resume cases', async () => {
    const { operation, instance } = await ops().operate(slug, 'suspend');
    expect(operation.status, operation.error ?? '').toBe('succeeded');
    expect(instance.status).toBe('suspended');
    await expectDeployment(slug, { image: version, replicas: 0 });
  });

  it.each(cases('resume'))('resume: %s at "%s" (%s) → instance suspended, 0 replicas', async (mode, step, activity) => {
    const outcome = await ops().operate(slug, 'resume', { injection: { activity, mode } });
    expectInjected(outcome, mode, step);
    expect(outcome.operation.status).toBe(mode === 'cancel' ? 'cancelled' : 'failed');
    expect(outcome.instance).toMatchObject({ status: 'suspended', version });
    await expectDeployment(slug, { image: version, replicas: 0 });
    expectWhole(await ops().world.read(slug));
    pointExercised();
  });
});
