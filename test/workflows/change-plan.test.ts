// The change_plan workflow on the real Temporal server with stubbed activities: what it changes,
// in which order, and how it restores the previous plan when the new size does not roll out.
import '../support/temporal-runtime';
import { ApplicationFailure } from '@temporalio/activity';
import { type Client, type Connection, WorkflowFailedError } from '@temporalio/client';
import { connectTemporalClient } from '../../temporal/data-converter';
import { prebuiltWorkflowBundle } from '../support/build';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { type ActivityBehaviour, type ActivityCall, recordingActivities } from '../support/activity-names';
import type { InstanceStatus, Plan } from '../../domain/instance';
import { workflowIdFor } from '../../domain/operations';
import { type ChangePlanInput } from '../../domain/operation-kinds';
import { createWorker } from '../../worker/index';
import { testConfig, uniqueSuffix } from '../support/config';
import { noBackups } from '../support/catalogue-rows';

const starter: Plan = { name: 'starter', cpu: '1', memory: '2Gi', pods: 10, replicas: 1, pricePerHourCents: 5, suspendedPricePerHourCents: 1, dbConnections: 5, ...noBackups };
const pro: Plan = { name: 'pro', cpu: '4', memory: '8Gi', pods: 40, replicas: 3, pricePerHourCents: 40, suspendedPricePerHourCents: 4, dbConnections: 20, ...noBackups };
const config = testConfig({ SHIPYARD_TASK_QUEUE: `change-plan-${uniqueSuffix()}` });
let connection: Connection;
let client: Client;

beforeAll(async () => {
  ({ client, connection } = await connectTemporalClient(config));
});
afterAll(async () => {
  await connection?.close();
});

type Call = ActivityCall;
const stubbed: (keyof Activities)[] = [
  'claimInstance', 'markInstance', 'finishOperation', 'recordEvent', 'checkCapacity',
  'ensureTenantDatabase', 'applyNamespace', 'applyWorkload', 'readWorkload', 'waitForRollout',
];

async function changePlan(fromStatus: InstanceStatus, behaviour: ActivityBehaviour = {}) {
  const { activities, calls } = recordingActivities(stubbed, {
    readWorkload: async () => ({ version: '1.0.0', replicas: fromStatus === 'suspended' ? 0 : 1 }),
    ...behaviour,
  });
  const slug = `cp-${uniqueSuffix()}`;
  const input: ChangePlanInput = {
    operationId: `op_${slug}`,
    instanceId: `ins_${slug}`,
    slug,
    actor: 'test',
    settings: { rolloutTimeoutSeconds: 30, unschedulableGraceSeconds: 30 },
    fromStatus,
    plan: starter,
    newPlan: pro,
  };
  const { worker, connection: workerConnection } = await createWorker(config, activities, { workflowBundle: prebuiltWorkflowBundle });
  try {
    const outcome = await worker.runUntil(
      client.workflow.execute('changeInstancePlan', { workflowId: workflowIdFor(slug), taskQueue: config.taskQueue, args: [input] }).then(
        (result) => ({ result, error: undefined }),
        (error: unknown) => ({ result: undefined, error }),
      ),
    );
    return { ...outcome, calls, slug };
  } finally {
    await workerConnection.close();
  }
}

const changes = (calls: Call[]) =>
  calls
    .filter((c) => ['applyNamespace', 'ensureTenantDatabase', 'applyWorkload'].includes(c.name))
    .map((c) => [c.name, c.name === 'applyNamespace' ? (c.args[1] as Plan).name : c.args[1]] as const);
const marks = (calls: Call[]) => calls.filter((c) => c.name === 'markInstance').map((c) => c.args[1]);

describe('change plan', () => {
  it('checks capacity, then resizes quota, connection limit and replicas, waits, and records the new plan', async () => {
    const { result, calls, slug } = await changePlan('ready');
    expect(result?.status).toBe('succeeded');
    expect(calls.find((c) => c.name === 'checkCapacity')?.args).toEqual([slug, pro]);
    expect(changes(calls)).toEqual([
      ['applyNamespace', 'pro'],
      ['ensureTenantDatabase', { connectionLimit: 20 }],
      ['applyWorkload', { plan: pro, version: '1.0.0', replicas: 3 }],
    ]);
    expect(calls.map((c) => c.name).indexOf('waitForRollout')).toBeGreaterThan(calls.map((c) => c.name).indexOf('applyWorkload'));
    expect(marks(calls)).toEqual([{ status: 'ready', plan: 'pro' }]);
  });

  it('gives a suspended instance the new quota and keeps it at zero replicas, suspended', async () => {
    const { result, calls } = await changePlan('suspended');
    expect(result?.status).toBe('succeeded');
    expect(changes(calls).at(-1)).toEqual(['applyWorkload', { plan: pro, version: '1.0.0', replicas: 0 }]);
    expect(marks(calls)).toEqual([{ status: 'suspended', plan: 'pro' }]);
  });

  it('restores the previous plan when the new size does not roll out: rolled_back, old plan kept', async () => {
    let waits = 0;
    const { result, calls } = await changePlan('ready', {
      // The new size never becomes ready; the old one does.
      waitForRollout: async () => {
        if (waits++ === 0) throw ApplicationFailure.nonRetryable('pods unschedulable: 0/3 nodes are available', 'Unschedulable');
      },
    });
    expect(result?.status).toBe('rolled_back');
    expect(result?.error).toMatch(/change to plan pro failed: pods unschedulable.*restored plan starter/);
    expect(changes(calls)).toEqual([
      ['applyNamespace', 'pro'],
      ['ensureTenantDatabase', { connectionLimit: 20 }],
      ['applyWorkload', { plan: pro, version: '1.0.0', replicas: 3 }],
      // Room for both sizes while the old one rolls out again, then the old quota alone.
      ['applyNamespace', 'starter'],
      ['ensureTenantDatabase', { connectionLimit: 5 }],
      ['applyWorkload', { plan: starter, version: '1.0.0', replicas: 1 }],
      ['applyNamespace', 'starter'],
    ]);
    expect(calls.filter((c) => c.name === 'applyNamespace').map((c) => c.args[2])).toEqual([undefined, { alsoRoomFor: pro }, undefined]);
    expect(waits).toBe(2);
    // The instance is ready again, on the plan it had: no plan in the write.
    expect(marks(calls)).toEqual([{ status: 'ready' }]);
  });

  it('changes nothing when the cluster has no room: the operation fails with the reason, the instance keeps its status', async () => {
    const { error, calls } = await changePlan('ready', {
      checkCapacity: async () => {
        throw ApplicationFailure.nonRetryable('insufficient capacity for plan pro: quotas would request cpu 100 of 96 allocatable', 'InsufficientCapacity');
      },
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(changes(calls)).toEqual([]);
    const finish = calls.find((c) => c.name === 'finishOperation')!.args[1] as { status: string; error: string };
    expect(finish).toMatchObject({ status: 'failed', error: expect.stringContaining('insufficient capacity') });
    expect(marks(calls)).toEqual([{ status: 'ready' }]);
  });
});
