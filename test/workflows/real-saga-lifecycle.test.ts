// Upgrade, suspend, resume and teardown against the real testbed with the real activities: a
// failure injected after each step's side effect, and a cancel caught by each step while it works,
// must each end in the documented state (README, "What an operation does"), checked in the
// catalogue and in Kubernetes, Route 53 and Postgres. One provisioned instance serves every case of
// a kind whose end state allows the next case to start.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { World } from '../support/world';
import { uniqueSuffix } from '../support/config';
import { injectedError, modes, type Outcome, type RealOperations, startRealOperations, stepActivities } from '../support/real-operations';
import { nothingLeft } from '../support/world';

let ops: RealOperations;
let exercised = 0;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  ops = await startRealOperations({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '15' });
});
afterAll(async () => {
  console.log(`real saga, upgrade/suspend/resume/teardown: ${exercised} failure/cancel points exercised`);
  await ops?.close();
});

const plan = { name: 'standard', replicas: 2 };
const version = '1.0.0';

/** A ready instance on the standard plan at `version`. */
async function readyInstance(label: string): Promise<string> {
  const slug = `${label}-${uniqueSuffix()}`;
  const { operation, instance } = await ops.provision(slug, { plan: plan.name, version });
  expect(operation.status, operation.error ?? '').toBe('succeeded');
  expect(instance.status).toBe('ready');
  return slug;
}

async function tearDown(slug: string | undefined): Promise<void> {
  if (!slug) return;
  const { operation } = await ops.operate(slug, 'teardown');
  expect(operation.status, operation.error ?? '').toBe('succeeded');
  expect(await ops.world.readSettled(slug)).toMatchObject(nothingLeft);
}

function expectInjected(outcome: Outcome, mode: (typeof modes)[number], step: string): void {
  expect(outcome.injected?.reached, `the activity of "${step}" was never called`).toBe(true);
  if (mode === 'fail-after') {
    expect(outcome.injected?.sideEffectDone).toBe(true);
    expect(outcome.operation.error).toContain(injectedError);
  }
  expect(outcome.operation.steps.find((s) => s.name === step)?.status).toBe('failed');
  expect(outcome.operation.steps.filter((s) => s.status === 'running')).toEqual([]);
}

/** The instance still serves, whole: app, name, certificate, database. */
function expectWhole(w: World): void {
  expect(w.namespace).toBe(true);
  expect(w.ingresses).toEqual(['app']);
  expect(w.certificates).toHaveLength(1);
  expect(w.dnsRecords.map((r) => r.type).sort()).toEqual(['CNAME', 'TXT']);
  expect(w.database && w.role).toBe(true);
}

async function expectDeployment(slug: string, expected: { image: string; replicas: number }): Promise<void> {
  await expect
    .poll(async () => (await ops.world.read(slug)).deployments.map((d) => ({ image: d.image.split(':').at(-1), replicas: d.replicas, ready: d.readyReplicas })), {
      timeout: 30_000,
      interval: 500,
    })
    .toEqual([{ image: expected.image, replicas: expected.replicas, ready: expected.replicas }]);
}

const cases = <K extends keyof typeof stepActivities>(kind: K) =>
  modes.flatMap((mode) => Object.entries(stepActivities[kind]).map(([step, activity]) => [mode, step, activity] as const));

describe('upgrade', () => {
  let slug: string;
  let n = 0;
  beforeAll(async () => {
    slug = await readyInstance('rsu');
  });
  afterAll(() => tearDown(slug));

  it.each(cases('upgrade'))('%s at "%s" (%s) → restored: instance ready at the old version', async (mode, step, activity) => {
    const outcome = await ops.operate(slug, 'upgrade', { request: { version: `1.1.${n++}` }, injection: { activity, mode } });
    expectInjected(outcome, mode, step);
    // Before the claim is through nothing has changed: there is nothing to roll back.
    const claim = step === 'record upgrading';
    expect(outcome.operation.status).toBe(mode === 'cancel' ? 'cancelled' : claim ? 'failed' : 'rolled_back');
    expect(outcome.operation.steps.filter((s) => s.name.includes('previous')).map((s) => s.status)).toEqual(claim ? ['pending', 'pending'] : ['done', 'done']);
    expect(outcome.instance).toMatchObject({ status: 'ready', version });
    await expectDeployment(slug, { image: version, replicas: plan.replicas });
    expectWhole(await ops.world.read(slug));
    exercised += 1;
  });

  // The way back has side effects too. A version that never becomes ready makes the rollback run.
  it.each([
    ['restore previous version', 'applyWorkload'],
    ['wait for previous version', 'waitForRollout'],
  ] as const)('fail-after at "%s" (%s, during the rollback) → instance failed; a later upgrade repairs it', async (step, activity) => {
    const outcome = await ops.operate(slug, 'upgrade', {
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
    exercised += 1;

    // A failed instance with a workload can be upgraded, and that makes it ready again.
    const repaired = await ops.operate(slug, 'upgrade', { request: { version } });
    expect(repaired.operation.status, repaired.operation.error ?? '').toBe('succeeded');
    expect(repaired.instance).toMatchObject({ status: 'ready', version });
  });
});

describe('suspend and resume', () => {
  let slug: string;
  beforeAll(async () => {
    slug = await readyInstance('rss');
  });
  afterAll(() => tearDown(slug));

  it.each(cases('suspend'))('suspend: %s at "%s" (%s) → instance ready, replicas back', async (mode, step, activity) => {
    const outcome = await ops.operate(slug, 'suspend', { injection: { activity, mode } });
    expectInjected(outcome, mode, step);
    expect(outcome.operation.status).toBe(mode === 'cancel' ? 'cancelled' : 'failed');
    if (step !== 'record suspending') expect(outcome.operation.steps.find((s) => s.name === 'scale to zero')?.status).toMatch(/^(compensated|failed)$/);
    expect(outcome.instance).toMatchObject({ status: 'ready', version });
    await expectDeployment(slug, { image: version, replicas: plan.replicas });
    expectWhole(await ops.world.read(slug));
    exercised += 1;
  });

  it('suspends for real, ready for the resume cases', async () => {
    const { operation, instance } = await ops.operate(slug, 'suspend');
    expect(operation.status, operation.error ?? '').toBe('succeeded');
    expect(instance.status).toBe('suspended');
    await expectDeployment(slug, { image: version, replicas: 0 });
  });

  it.each(cases('resume'))('resume: %s at "%s" (%s) → instance suspended, 0 replicas', async (mode, step, activity) => {
    const outcome = await ops.operate(slug, 'resume', { injection: { activity, mode } });
    expectInjected(outcome, mode, step);
    expect(outcome.operation.status).toBe(mode === 'cancel' ? 'cancelled' : 'failed');
    expect(outcome.instance).toMatchObject({ status: 'suspended', version });
    await expectDeployment(slug, { image: version, replicas: 0 });
    expectWhole(await ops.world.read(slug));
    exercised += 1;
  });
});

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
    const outcome = await ops.operate(slug, 'teardown', { injection: { activity, mode } });
    expectInjected(outcome, mode, step);
    expect(outcome.operation.status).toBe(mode === 'cancel' ? 'cancelled' : 'failed');
    // A teardown stopped at its claim removed nothing: the instance is back where it was (ready, the first case).
    expect(outcome.instance.status).toBe(step === 'record deleting' ? 'ready' : 'failed');
    const w = await ops.world.readSettled(slug);
    const names = Object.keys(removedBy) as (keyof typeof removedBy)[];
    const upTo = names.indexOf(step as keyof typeof removedBy);
    expect(names.map((s) => removedBy[s](w))).toEqual(names.map((_, i) => i <= upTo));
    exercised += 1;
  });

  it('a teardown of the failed instance then finishes: deleted, nothing left', async () => {
    const { operation, instance } = await ops.operate(slug, 'teardown');
    expect(operation.status, operation.error ?? '').toBe('succeeded');
    expect(instance.status).toBe('deleted');
    expect(await ops.world.readSettled(slug)).toMatchObject(nothingLeft);
  });
});
