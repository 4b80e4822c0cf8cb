// Workflow logic on the real Temporal server with stubbed activities: which steps run, which
// are undone and in what order, for every failure branch.
import '../support/temporal-runtime';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { type Client, type Connection, WorkflowFailedError } from '@temporalio/client';
import { prebuiltWorkflowBundle } from '../support/build';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import type { InstanceStatus, Plan } from '../../domain/instance';
import { type OperationProgress, progressQueryName, workflowIdFor } from '../../domain/operations';
import { type ProvisionInput } from '../../domain/operation-kinds';
import { connectTemporalClient } from '../../temporal/data-converter';
import { createWorker } from '../../worker/index';
import { provisionSteps } from '../../workflows/provision';
import { type ActivityBehaviour, type ActivityCall, activityNames, recordingActivities } from '../support/activity-names';
import { testConfig, uniqueSuffix } from '../support/config';
import { noBackups } from '../support/catalogue-rows';

const plan: Plan = { name: 'starter', cpu: '1', memory: '2Gi', pods: 10, replicas: 1, pricePerHourCents: 5, suspendedPricePerHourCents: 1, dbConnections: 5, ...noBackups };
const config = testConfig({ SHIPYARD_TASK_QUEUE: `saga-${uniqueSuffix()}` });
let connection: Connection;
let client: Client;

beforeAll(async () => {
  ({ client, connection } = await connectTemporalClient(config));
});
afterAll(async () => {
  await connection?.close();
});

type Call = ActivityCall;

/** Stub activities that log every call; `behaviour` overrides single activities. */
function stubActivities(behaviour: ActivityBehaviour = {}) {
  return recordingActivities(activityNames, { readWorkload: async () => ({ version: '1.0.0', replicas: 1 }), ...behaviour });
}

/** Input for provision and upgrade alike: both carry the plan and a version. */
function operationInput(slug: string, version = '1.0.0', fromStatus: InstanceStatus = 'provisioning'): ProvisionInput {
  return {
    operationId: `op_${slug}`,
    instanceId: `ins_${slug}`,
    slug,
    actor: 'test',
    settings: { rolloutTimeoutSeconds: 30, unschedulableGraceSeconds: 30 },
    fromStatus,
    plan,
    version,
  };
}

async function runWorkflow<T>(activities: object, body: () => Promise<T>): Promise<T> {
  const { worker, connection: workerConnection } = await createWorker(config, activities, { workflowBundle: prebuiltWorkflowBundle });
  try {
    return await worker.runUntil(body());
  } finally {
    await workerConnection.close();
  }
}

/** Runs one workflow to its end on a worker with `activities`. */
function execute(activities: object, workflowType: string, slug: string, input: object) {
  return runWorkflow(activities, () =>
    client.workflow.execute(workflowType, { workflowId: workflowIdFor(slug), taskQueue: config.taskQueue, args: [input] }),
  );
}

const permanent = () => Promise.reject(ApplicationFailure.nonRetryable('injected failure', 'Injected'));

// The activity that does each provisioning step, and the one that undoes it.
const provisionActivity: Record<string, { act: keyof Activities; undo?: keyof Activities }> = {
  'create database': { act: 'ensureTenantDatabase', undo: 'dropTenantDatabase' },
  'create namespace': { act: 'applyNamespace', undo: 'deleteNamespace' },
  'write secrets': { act: 'writeAppSecret', undo: 'deleteAppSecret' },
  'deploy app': { act: 'applyWorkload', undo: 'deleteWorkload' },
  'publish DNS record': { act: 'upsertDnsRecord', undo: 'deleteDnsRecord' },
  'request certificate': { act: 'applyCertificate', undo: 'deleteCertificate' },
  'wait for certificate': { act: 'waitForCertificateReady' },
  'create ingress': { act: 'applyIngress', undo: 'deleteIngress' },
  'wait for rollout': { act: 'waitForRollout' },
};
const undoNames = new Set(Object.values(provisionActivity).flatMap((s) => (s.undo ? [s.undo] : [])));

/** A wait that never ends by itself: it heartbeats (which brings it the cancel) until cancelled. */
async function untilCancelled(): Promise<never> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    await ctx.sleep(200);
  }
}

describe('provision saga', () => {
  it('runs every step and marks the instance ready', async () => {
    const slug = `ok-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities();
    const result = await execute(activities, 'provisionInstance', slug, operationInput(slug));
    expect(result.status).toBe('succeeded');
    expect(result.steps.map((s: { status: string }) => s.status)).toEqual(provisionSteps.map(() => 'done'));
    expect(calls.filter((c) => undoNames.has(c.name))).toEqual([]);
    expect(calls.find((c) => c.name === 'markInstance' && (c.args[1] as { status: string }).status === 'ready')).toBeTruthy();
    expect(calls.at(-1)?.name).toBe('finishOperation');
  });

  const failingSteps = Object.keys(provisionActivity);
  it.each(failingSteps)('a permanent failure at "%s" undoes it and every earlier step, newest first', async (failing) => {
    const slug = `f-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities({ [provisionActivity[failing]!.act]: permanent });
    const run = execute(activities, 'provisionInstance', slug, operationInput(slug));
    await expect(run).rejects.toThrow(WorkflowFailedError);

    const earlier = failingSteps.slice(0, failingSteps.indexOf(failing));
    // The failing step may have changed the world before it failed: its undo runs too.
    const expectedUndo = [...earlier, failing].flatMap((s) => (provisionActivity[s]!.undo ? [provisionActivity[s]!.undo!] : [])).reverse();
    expect(calls.filter((c) => undoNames.has(c.name)).map((c) => c.name)).toEqual(expectedUndo);
    expect(calls.every((c) => c.args[0] === slug || typeof c.args[0] !== 'string' || c.args[0].startsWith('ins_') || c.args[0].startsWith('op_'))).toBe(true);

    const finish = calls.find((c) => c.name === 'finishOperation')!;
    const result = finish.args[1] as { status: string; error: string; steps: { name: string; status: string }[] };
    expect(result.status).toBe('failed');
    expect(result.error).toContain('injected failure');
    expect(result.steps.find((s) => s.name === failing)?.status).toBe('failed');
    for (const s of earlier) {
      expect(result.steps.find((x) => x.name === s)?.status).toBe(provisionActivity[s]!.undo ? 'compensated' : 'done');
    }
    expect(calls.filter((c) => c.name === 'markInstance').at(-1)?.args[1]).toEqual({ status: 'failed' });
  });

  it('a cancel mid-way undoes everything done so far and records the operation as cancelled', async () => {
    const slug = `c-${uniqueSuffix()}`;
    let rolloutStarted!: () => void;
    const rolloutWaiting = new Promise<void>((resolve) => (rolloutStarted = resolve));
    const { activities, calls } = stubActivities({
      // Stands in for a rollout that never finishes; returns only when cancelled.
      waitForRollout: async () => {
        rolloutStarted();
        await untilCancelled();
      },
    });
    await runWorkflow(activities, async () => {
      const handle = await client.workflow.start('provisionInstance', {
        workflowId: workflowIdFor(slug),
        taskQueue: config.taskQueue,
        args: [operationInput(slug)],
      });
      await rolloutWaiting;
      const progress = await handle.query<OperationProgress>(progressQueryName);
      expect(progress.steps.find((s) => s.name === 'wait for rollout')?.status).toBe('running');
      expect(progress.steps.find((s) => s.name === 'create ingress')?.status).toBe('done');
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    });
    expect(calls.filter((c) => undoNames.has(c.name)).map((c) => c.name)).toEqual([
      'deleteIngress', 'deleteCertificate', 'deleteDnsRecord', 'deleteWorkload', 'deleteAppSecret', 'deleteNamespace', 'dropTenantDatabase',
    ]);
    const finish = calls.find((c) => c.name === 'finishOperation')!;
    expect((finish.args[1] as { status: string }).status).toBe('cancelled');
  });

  it('a failing compensation is reported but does not hide the original error or stop the others', async () => {
    const slug = `u-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities({ applyWorkload: permanent, deleteAppSecret: permanent });
    await expect(
      execute(activities, 'provisionInstance', slug, operationInput(slug)),
    ).rejects.toThrow(WorkflowFailedError);
    expect(calls.filter((c) => undoNames.has(c.name)).map((c) => c.name)).toEqual(['deleteWorkload', 'deleteAppSecret', 'deleteNamespace', 'dropTenantDatabase']);
    const result = calls.find((c) => c.name === 'finishOperation')!.args[1] as { error: string };
    expect(result.error).toMatch(/^injected failure; undo of "write secrets" failed: injected failure/);
  });
});

describe('upgrade', () => {
  it('rolls back to the previous version when the new one does not roll out', async () => {
    const slug = `r-${uniqueSuffix()}`;
    let rollouts = 0;
    const { activities, calls } = stubActivities({
      readWorkload: async () => ({ version: '1.0.0', replicas: 2 }),
      waitForRollout: async () => {
        rollouts += 1;
        if (rollouts === 1) throw ApplicationFailure.nonRetryable('pods not ready', 'RolloutTimeout');
      },
    });
    const result = await execute(activities, 'upgradeInstance', slug, operationInput(slug, 'fail-2.0.0'));
    expect(result.status).toBe('rolled_back');
    expect(calls.filter((c) => c.name === 'applyWorkload').map((c) => c.args[1])).toEqual([
      { plan, version: 'fail-2.0.0', replicas: 2 },
      { plan, version: '1.0.0', replicas: 2 },
    ]);
    expect(calls.filter((c) => c.name === 'markInstance').at(-1)?.args[1]).toEqual({ status: 'ready', version: '1.0.0' });
  });

  it('marks the instance ready at the new version when the rollout succeeds', async () => {
    const slug = `s-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities();
    const result = await execute(activities, 'upgradeInstance', slug, operationInput(slug, '2.0.0'));
    expect(result.status).toBe('succeeded');
    expect(calls.filter((c) => c.name === 'markInstance').at(-1)?.args[1]).toEqual({ status: 'ready', version: '2.0.0' });
  });
});

describe('truthful status', () => {
  const lastMark = (calls: Call[]) => calls.filter((c) => c.name === 'markInstance').at(-1)?.args[1];

  it.each(['ready', 'failed'] as const)('an upgrade of a %s instance with nothing deployed fails and leaves it failed, never ready', async (fromStatus) => {
    const slug = `nw-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities({ readWorkload: async () => null });
    await expect(execute(activities, 'upgradeInstance', slug, operationInput(slug, '2.0.0', fromStatus))).rejects.toThrow(WorkflowFailedError);
    expect(calls.some((c) => c.name === 'applyWorkload')).toBe(false);
    expect(lastMark(calls)).toEqual({ status: 'failed' });
    const result = calls.find((c) => c.name === 'finishOperation')!.args[1] as { status: string; error: string };
    expect(result).toMatchObject({ status: 'failed', error: expect.stringContaining('nothing is deployed') });
  });

  it('an upgrade that fails before changing anything puts the instance back where it was', async () => {
    const slug = `rb-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities({ readWorkload: permanent });
    await expect(execute(activities, 'upgradeInstance', slug, operationInput(slug, '2.0.0', 'ready'))).rejects.toThrow(WorkflowFailedError);
    expect(lastMark(calls)).toEqual({ status: 'ready' });
  });

  it('an operation whose instance moved since it was accepted changes nothing and leaves the instance alone', async () => {
    const slug = `mv-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities({
      claimInstance: () => Promise.reject(ApplicationFailure.nonRetryable('instance is deleting, no longer ready', 'InstanceMoved')),
    });
    await expect(execute(activities, 'suspendInstance', slug, operationInput(slug, '1.0.0', 'ready'))).rejects.toThrow(WorkflowFailedError);
    expect(calls.map((c) => c.name)).toEqual(['claimInstance', 'recordEvent', 'finishOperation']);
    expect((calls.at(-1)!.args[1] as { status: string; error: string }).error).toContain('no longer ready');
  });

  it('a suspend that fails scales the instance back and leaves it ready', async () => {
    const slug = `sp-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities({ readWorkload: async () => ({ version: '1.0.0', replicas: 2 }), waitForRollout: permanent });
    await expect(execute(activities, 'suspendInstance', slug, operationInput(slug, '1.0.0', 'ready'))).rejects.toThrow(WorkflowFailedError);
    expect(calls.filter((c) => c.name === 'scaleWorkload').map((c) => c.args[1])).toEqual([0, 2]);
    expect(lastMark(calls)).toEqual({ status: 'ready' });
  });

  it('a resume that fails scales the instance back to zero and leaves it suspended', async () => {
    const slug = `rs-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities({ waitForRollout: permanent });
    await expect(execute(activities, 'resumeInstance', slug, operationInput(slug, '1.0.0', 'suspended'))).rejects.toThrow(WorkflowFailedError);
    expect(calls.filter((c) => c.name === 'scaleWorkload').map((c) => c.args[1])).toEqual([plan.replicas, 0]);
    expect(lastMark(calls)).toEqual({ status: 'suspended' });
  });

  it('an undo that fails leaves the instance failed: the world may be half-changed', async () => {
    const slug = `hf-${uniqueSuffix()}`;
    const { activities, calls } = stubActivities({ waitForRollout: permanent, scaleWorkload: async (_slug: string, n: number) => (n > 0 ? permanent() : undefined) });
    await expect(execute(activities, 'suspendInstance', slug, operationInput(slug, '1.0.0', 'ready'))).rejects.toThrow(WorkflowFailedError);
    expect(lastMark(calls)).toEqual({ status: 'failed' });
  });
});

describe('cancel while an activity is still working', () => {
  /** An activity that takes a while and ignores cancellation (it does not heartbeat), like a quick call caught mid-flight. */
  const slow = (ms: number, log: string[], name: string) => async () => {
    log.push(`${name}:start`);
    await new Promise((resolve) => setTimeout(resolve, ms));
    log.push(`${name}:end`);
  };

  it('a provision cancelled mid-step undoes that step only after the step has finished', async () => {
    const slug = `cs-${uniqueSuffix()}`;
    const log: string[] = [];
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    const { activities } = stubActivities({
      applyNamespace: async () => {
        started();
        await slow(1500, log, 'applyNamespace')();
      },
      deleteNamespace: async () => void log.push('deleteNamespace'),
      dropTenantDatabase: async () => void log.push('dropTenantDatabase'),
    });
    await runWorkflow(activities, async () => {
      const handle = await client.workflow.start('provisionInstance', { workflowId: workflowIdFor(slug), taskQueue: config.taskQueue, args: [operationInput(slug)] });
      await inFlight;
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    });
    // The namespace the late step made is deleted after it was made, not before.
    expect(log).toEqual(['applyNamespace:start', 'applyNamespace:end', 'deleteNamespace', 'dropTenantDatabase']);
  });

  it('an upgrade cancelled while the new spec is applied lets the apply finish, then restores the old spec', async () => {
    // A quick call runs inside the workflow's task, which hears of the cancel once the call is
    // done; the next step (a wait, as in the real runbook) is the one cancelled.
    const slug = `cu-${uniqueSuffix()}`;
    const log: string[] = [];
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    const { activities, calls } = stubActivities({
      applyWorkload: async (_slug: string, spec: { version: string }) => {
        if (spec.version === '2.0.0') {
          started();
          await slow(1500, log, 'apply 2.0.0')();
        } else log.push(`apply ${spec.version}`);
      },
      waitForRollout: async (_slug: string, { version }: { version?: string }) => {
        if (version === '2.0.0') await untilCancelled();
      },
    });
    await runWorkflow(activities, async () => {
      const handle = await client.workflow.start('upgradeInstance', {
        workflowId: workflowIdFor(slug),
        taskQueue: config.taskQueue,
        args: [operationInput(slug, '2.0.0', 'ready')],
      });
      await inFlight;
      await handle.cancel();
      await handle.result().catch(() => undefined);
    });
    expect(log).toEqual(['apply 2.0.0:start', 'apply 2.0.0:end', 'apply 1.0.0']);
    const result = calls.find((c) => c.name === 'finishOperation')!.args[1] as { status: string };
    expect(result.status).toBe('cancelled');
    expect(calls.filter((c) => c.name === 'markInstance').at(-1)?.args[1]).toEqual({ status: 'ready', version: '1.0.0' });
  });
});
