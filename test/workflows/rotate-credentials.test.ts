// The rotate_credentials workflow on the real Temporal server with stubbed activities: the order
// of its steps, that the previous login is disabled only after the rollout, and the way back when
// the rollout fails or the rotation is cancelled (test/e2e/rotate-credentials.test.ts runs it for real).
import '../support/temporal-runtime';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { type Client, type Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import type { RotateCredentialsInput } from '../../domain/operation-kinds';
import type { Plan } from '../../domain/instance';
import { workflowIdFor } from '../../domain/operations';
import { connectTemporalClient } from '../../temporal/data-converter';
import { createWorker } from '../../worker/index';
import { type ActivityBehaviour, recordingActivities } from '../support/activity-names';
import { prebuiltWorkflowBundle } from '../support/build';
import { noBackups } from '../support/catalogue-rows';
import { testConfig, uniqueSuffix } from '../support/config';

const plan: Plan = { name: 'starter', cpu: '1', memory: '2Gi', pods: 10, replicas: 1, pricePerHourCents: 5, suspendedPricePerHourCents: 1, dbConnections: 5, ...noBackups };
const config = testConfig({ SHIPYARD_TASK_QUEUE: `rotate-${uniqueSuffix()}` });
let connection: Connection;
let client: Client;

beforeAll(async () => {
  ({ client, connection } = await connectTemporalClient(config));
});
afterAll(async () => {
  await connection?.close();
});

const stubbed: (keyof Activities)[] = [
  'claimInstance', 'markInstance', 'finishOperation', 'recordEvent', 'waitForRollout',
  'readDatabaseLogin', 'writeRotatedCredentials', 'restartAppForCredentials', 'restorePreviousCredentials', 'disableDatabaseLogin', 'markCredentialsRotated',
];
const rotationCalls = new Set<string>(stubbed.filter((n) => !['claimInstance', 'finishOperation', 'recordEvent'].includes(n)));
const fails = (type = 'Injected') => () => Promise.reject(ApplicationFailure.nonRetryable('injected failure', type));

async function rotate(behaviour: ActivityBehaviour = {}, whileRunning?: (workflowId: string) => Promise<void>) {
  const { activities, calls } = recordingActivities(stubbed, {
    readDatabaseLogin: async () => ({ current: 'tenant_x', next: 'tenant_login_0123456789ab_a', restartMark: 'op_before' }),
    ...behaviour,
  });
  const slug = `rot-${uniqueSuffix()}`;
  const input: RotateCredentialsInput = {
    operationId: `op_${slug}`,
    instanceId: `ins_${slug}`,
    slug,
    actor: 'test',
    settings: { rolloutTimeoutSeconds: 30, unschedulableGraceSeconds: 30 },
    fromStatus: 'ready',
    plan,
  };
  const { worker, connection: workerConnection } = await createWorker(config, activities, { workflowBundle: prebuiltWorkflowBundle });
  try {
    const outcome = await worker.runUntil(async () => {
      const handle = await client.workflow.start('rotateCredentials', { workflowId: workflowIdFor(slug), taskQueue: config.taskQueue, args: [input] });
      await whileRunning?.(handle.workflowId);
      return handle.result().then(
        (result) => ({ result, error: undefined }),
        (error: unknown) => ({ result: undefined, error }),
      );
    });
    const result = calls.filter((c) => c.name === 'finishOperation').at(-1)?.args[1] as { status: string; error?: string } | undefined;
    return {
      ...outcome,
      slug,
      finished: result,
      steps: calls.filter((c) => rotationCalls.has(c.name)).map((c) => [c.name, ...c.args.slice(1)]),
    };
  } finally {
    await workerConnection.close();
  }
}

describe('rotate_credentials', () => {
  it('moves the app to the other login, and disables the previous one only after the rollout', async () => {
    const { finished, steps, slug } = await rotate();
    expect(finished?.status).toBe('succeeded');
    expect(steps).toEqual([
      ['readDatabaseLogin'],
      ['writeRotatedCredentials', { from: 'tenant_x', to: 'tenant_login_0123456789ab_a', connectionLimit: 5 }],
      ['restartAppForCredentials', `op_${slug}`],
      ['waitForRollout', { timeoutSeconds: 30, unschedulableGraceSeconds: 30 }],
      ['disableDatabaseLogin', 'tenant_x'],
      ['markCredentialsRotated'],
    ]);
  });

  it('puts the previous credentials back when the rollout fails: rolled_back, the instance left as it was', async () => {
    let waits = 0;
    const { finished, steps } = await rotate({ waitForRollout: async () => (waits++ === 0 ? fails('RolloutTimeout')() : undefined) });
    expect(finished?.status).toBe('rolled_back');
    expect(finished?.error).toContain('injected failure');
    expect(steps.map(([name]) => name)).toEqual([
      'readDatabaseLogin', 'writeRotatedCredentials', 'restartAppForCredentials', 'waitForRollout',
      'restorePreviousCredentials', 'restartAppForCredentials', 'waitForRollout', 'disableDatabaseLogin',
    ]);
    expect(steps[5]).toEqual(['restartAppForCredentials', 'op_before']);
    expect(steps[7]).toEqual(['disableDatabaseLogin', 'tenant_login_0123456789ab_a']);
  });

  it('goes back the same way when cancelled during the rollout', async () => {
    let waits = 0;
    const { finished, steps } = await rotate(
      {
        waitForRollout: async () => {
          if (waits++ > 0) return;
          // Waits as the real one does, heartbeating, until the cancel reaches it.
          const ctx = Context.current();
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(100);
          }
        },
      },
      async (workflowId) => {
        for (let i = 0; i < 200 && waits === 0; i++) await new Promise((r) => setTimeout(r, 50));
        await client.workflow.getHandle(workflowId).cancel();
      },
    );
    expect(finished?.status).toBe('cancelled');
    expect(steps.map(([name]) => name)).toEqual([
      'readDatabaseLogin', 'writeRotatedCredentials', 'restartAppForCredentials', 'waitForRollout',
      'restorePreviousCredentials', 'restartAppForCredentials', 'waitForRollout', 'disableDatabaseLogin',
    ]);
  });

  it('a failure after the rollout rolls nothing back: the app runs on the new credentials, the instance keeps its status', async () => {
    const { finished, steps } = await rotate({ disableDatabaseLogin: fails() });
    expect(finished?.status).toBe('failed');
    expect(steps.map(([name]) => name)).toEqual(['readDatabaseLogin', 'writeRotatedCredentials', 'restartAppForCredentials', 'waitForRollout', 'disableDatabaseLogin']);
  });

  it('leaves the instance failed when the way back fails', async () => {
    const { finished, steps } = await rotate({ waitForRollout: fails(), restorePreviousCredentials: fails() });
    expect(finished?.status).toBe('failed');
    expect(steps.filter(([name]) => name === 'markInstance')).toEqual([['markInstance', { status: 'failed' }]]);
  });
});
