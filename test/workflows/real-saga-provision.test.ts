// Provision against the real testbed with the real activities: a failure injected after each
// step's side effect, and a cancel caught by each step while it works, must both end with the
// operation failed/cancelled, the instance `failed`, and nothing left in Kubernetes, Route 53 or
// Postgres (namespace, CNAME and owner TXT, database, role).
import { describe, expect, it } from 'vitest';
import { provisionSteps } from '../../workflows/provision';
import { uniqueSuffix } from '../support/config';
import { injectedError, stepActivities } from '../support/real-operations';
import { cases, realSagaFile } from '../support/real-saga';
import { nothingLeft } from '../support/world';

const { ops, pointExercised } = realSagaFile('provision');

const steps = Object.entries(stepActivities.provision);

describe('provision against the real testbed', () => {
  it('covers every provisioning step', () => {
    expect(steps.map(([step]) => step)).toEqual([...provisionSteps]);
  });

  // Each case provisions an instance of its own on a task queue of its own: they run side by side.
  it.concurrent.each(cases('provision'))('%s at "%s" (%s) → instance failed, nothing left', async (mode, step, activity) => {
    const slug = `rsp-${uniqueSuffix()}`;
    const { operation, instance, injected } = await ops().provision(slug, { injection: { activity, mode } });

    expect(injected?.reached, `${activity} was never called`).toBe(true);
    if (mode === 'fail-after') expect(injected?.sideEffectDone).toBe(true);
    expect(operation.status, operation.error ?? '').toBe(mode === 'cancel' ? 'cancelled' : 'failed');
    if (mode === 'fail-after') expect(operation.error).toContain(injectedError);
    expect(operation.steps.find((s) => s.name === step)?.status).toBe('failed');
    expect(operation.steps.filter((s) => s.status === 'running')).toEqual([]);
    expect(instance.status).toBe('failed');
    expect(await ops().world.readSettled(slug)).toMatchObject(nothingLeft);
    pointExercised();
  });
});
