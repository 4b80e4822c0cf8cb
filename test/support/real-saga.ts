// What the real-saga files share: their setup, one provisioned instance per kind of case, and
// what "restored" and "whole" look like in the world (README, "What an operation does").
import { afterAll, beforeAll, expect } from 'vitest';
import type { World } from './world';
import { uniqueSuffix } from './config';
import { injectedError, modes, type Outcome, type RealOperations, startRealOperations, stepActivities } from './real-operations';
import { nothingLeft } from './world';

export const plan = { name: 'standard', replicas: 2 };
export const version = '1.0.0';

/** The cases of `kind`: every mode at every step. */
export const cases = <K extends keyof typeof stepActivities>(kind: K) =>
  modes.flatMap((mode) => Object.entries(stepActivities[kind]).map(([step, activity]) => [mode, step, activity] as const));

/**
 * A real-saga file's setup, registered as its hooks: the real operations (environment
 * `overrides` on top of the testbed's), and at the end how many failure/cancel points the file
 * exercised (each case calls `pointExercised` once it has checked its end state).
 */
export function realSagaFile(label: string, overrides: Record<string, string> = {}) {
  let started: RealOperations | undefined;
  let exercised = 0;
  beforeAll(async () => {
    started = await startRealOperations(overrides);
  });
  afterAll(async () => {
    console.log(`real saga, ${label}: ${exercised} failure/cancel points exercised`);
    await started?.close();
  });
  const ops = () => started!;
  return { ops, pointExercised: () => void exercised++, ...instanceHelpers(ops) };
}

function instanceHelpers(ops: () => RealOperations) {
  /** A ready instance on the standard plan at `version`. */
  async function readyInstance(label: string): Promise<string> {
    const slug = `${label}-${uniqueSuffix()}`;
    const { operation, instance } = await ops().provision(slug, { plan: plan.name, version });
    expect(operation.status, operation.error ?? '').toBe('succeeded');
    expect(instance.status).toBe('ready');
    return slug;
  }

  async function tearDown(slug: string | undefined): Promise<void> {
    if (!slug) return;
    const { operation } = await ops().operate(slug, 'teardown');
    expect(operation.status, operation.error ?? '').toBe('succeeded');
    expect(await ops().world.readSettled(slug)).toMatchObject(nothingLeft);
  }

  async function expectDeployment(slug: string, expected: { image: string; replicas: number }): Promise<void> {
    await expect
      .poll(async () => (await ops().world.read(slug)).deployments.map((d) => ({ image: d.image.split(':').at(-1), replicas: d.replicas, ready: d.readyReplicas })), {
        timeout: 30_000,
        interval: 500,
      })
      .toEqual([{ image: expected.image, replicas: expected.replicas, ready: expected.replicas }]);
  }

  return { readyInstance, tearDown, expectDeployment };
}

export function expectInjected(outcome: Outcome, mode: (typeof modes)[number], step: string): void {
  expect(outcome.injected?.reached, `the activity of "${step}" was never called`).toBe(true);
  if (mode === 'fail-after') {
    expect(outcome.injected?.sideEffectDone).toBe(true);
    expect(outcome.operation.error).toContain(injectedError);
  }
  expect(outcome.operation.steps.find((s) => s.name === step)?.status).toBe('failed');
  expect(outcome.operation.steps.filter((s) => s.status === 'running')).toEqual([]);
}

/** The instance still serves, whole: app, name, certificate, database. */
export function expectWhole(w: World): void {
  expect(w.namespace).toBe(true);
  expect(w.ingresses).toEqual(['app']);
  expect(w.certificates).toHaveLength(1);
  expect(w.dnsRecords.map((r) => r.type).sort()).toEqual(['CNAME', 'TXT']);
  expect(w.database && w.role).toBe(true);
}
