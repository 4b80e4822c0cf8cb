// Operations run for real: the workflows from workflows/, the real activities against the
// testbed's Kubernetes, Route 53, tenant Postgres and catalogue, started and cancelled through the
// same functions the API calls (api/operations.ts: catalogue rows, the kind table's input, memo,
// run id). One activity of a run can be made to fail *after* it did its work, or to be caught by
// a cancel while it works — the two ways a step can leave something behind.
import './temporal-runtime';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { type Activities, createActivities } from '../../activities';
import { cancel } from '../../lifecycle/live';
import { startOnInstance, type InstanceOperationKind } from '../../lifecycle/operations';
import { provision } from '../../lifecycle/provision';
import { findInstance, type InstanceRow } from '../../db/instances';
import { getOperation, type OperationRow } from '../../db/operations';
import { migrateCatalogue } from '../../db/migrate';
import type { OperationRequest } from '../../domain/operation-kinds';
import { workflowIdFor } from '../../domain/operations';
import { connectActivityDeps, createWorker } from '../../worker/index';
import { prebuiltWorkflowBundle } from './build';
import { testConfig, uniqueSuffix } from './config';
import { worldReader } from './world';

export type ActivityName = keyof Activities;

export interface Injection {
  /** The activity that does the step. */
  activity: ActivityName;
  /** Which call of that activity in the run (1 = the first); later calls run untouched. */
  call?: number;
  /**
   * `fail-after`: the real activity runs to its end, then the call fails non-retryably.
   * `cancel`: the operation is cancelled while the call is in flight; the call waits until the
   * cancel has reached it, holds its side effect back a moment (or until the run has closed), then
   * lets the real activity do its work and reports the cancel. A workflow that compensated without
   * waiting for the activity to stop would leave that late side effect behind.
   */
  mode: 'fail-after' | 'cancel';
}

export const injectedError = 'injected after the side effect';

/**
 * How long a cancelled call holds its side effect back. With the activities' cancellation type
 * WAIT_CANCELLATION_COMPLETED the workflow waits all along; with TRY_CANCEL it would compensate
 * (and, early in a provision, close) within this time, and the test would see the leak.
 */
const LATE_SIDE_EFFECT_MS = 1500;

/** One injection in one run: whether it was reached and whether the real activity finished its work. */
class InjectionPoint {
  wasReached = false;
  sideEffectDone = false;
  readonly reached: Promise<void>;
  private markReached!: () => void;
  private readonly cancelRequested: Promise<void>;
  /** Called by the test once it has cancelled the operation. */
  cancelSent!: () => void;
  private readonly closed: Promise<void>;
  /** Called by the test when the workflow run has closed. */
  runClosed!: () => void;

  constructor(readonly injection: Injection) {
    this.reached = new Promise((resolve) => (this.markReached = resolve));
    this.cancelRequested = new Promise((resolve) => (this.cancelSent = resolve));
    this.closed = new Promise((resolve) => (this.runClosed = resolve));
  }

  async intercept(real: () => Promise<unknown>): Promise<unknown> {
    this.wasReached = true;
    this.markReached();
    if (this.injection.mode === 'fail-after') {
      await real();
      this.sideEffectDone = true;
      throw ApplicationFailure.nonRetryable(injectedError, 'Injected');
    }
    await this.cancelRequested;
    const ctx = Context.current();
    let cancel: unknown;
    try {
      // The workflow asks to cancel this activity; a heartbeat brings the request (ctx.sleep throws it).
      for (;;) {
        ctx.heartbeat({ injected: 'waiting for the cancel to arrive' });
        await ctx.sleep(100);
      }
    } catch (err) {
      if (!(err instanceof CancelledFailure)) throw err;
      cancel = err;
    }
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, LATE_SIDE_EFFECT_MS))]);
    // The late side effect. A real waiting activity stops at its first wait, having done its change.
    await real();
    this.sideEffectDone = true;
    throw cancel;
  }
}

function inject(real: Activities, point: InjectionPoint | undefined): Activities {
  if (!point) return real;
  const { activity, call = 1 } = point.injection;
  let calls = 0;
  const original = real[activity] as (...args: unknown[]) => Promise<unknown>;
  return {
    ...real,
    [activity]: (...args: unknown[]) => {
      calls += 1;
      return calls === call ? point.intercept(() => original(...args)) : original(...args);
    },
  };
}

export interface Outcome {
  operation: OperationRow;
  instance: InstanceRow;
  /** Whether the injected activity was reached and did its real work (a point never reached proves nothing). */
  injected?: { reached: boolean; sideEffectDone: boolean };
}

/** Started the way the API starts it: which instance, which catalogue row. */
interface Started {
  slug: string;
  operationId: string;
}

export interface RealOperations {
  config: ReturnType<typeof testConfig>;
  world: ReturnType<typeof worldReader>;
  /** A new instance provisioned on `plan`, run to its end. */
  provision(slug: string, options?: { plan?: string; version?: string; injection?: Injection }): Promise<Outcome>;
  /** `kind` on an existing instance, run to its end. */
  operate(slug: string, kind: InstanceOperationKind, options?: { request?: OperationRequest; injection?: Injection }): Promise<Outcome>;
  close(): Promise<void>;
}

const actor = 'real-saga-test';

/**
 * Connects to the testbed; workers load the test run's prebuilt workflow bundle. Each operation runs on
 * a task queue of its own, with a short rollout timeout.
 */
export async function startRealOperations(overrides: Record<string, string> = {}): Promise<RealOperations> {
  const config = testConfig({
    SHIPYARD_TASK_QUEUE: `real-saga-${uniqueSuffix()}`,
    SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '20',
    SHIPYARD_UNSCHEDULABLE_GRACE_SECONDS: '20',
    ...overrides,
  });
  await migrateCatalogue(config.databaseUrl);
  const deps = await connectActivityDeps(config);
  const real = createActivities(deps);
  const world = worldReader(config);

  let runs = 0;
  async function run(injection: Injection | undefined, start: (runDeps: typeof deps) => Promise<Started>): Promise<Outcome> {
    const point = injection && new InjectionPoint(injection);
    // A task queue per run: its worker (with its injection) takes only its own run's tasks, so
    // runs on different instances may go on at the same time.
    const runConfig = { ...config, taskQueue: `${config.taskQueue}.${++runs}` };
    const { worker, connection } = await createWorker(runConfig, inject(real, point), {
      workflowBundle: prebuiltWorkflowBundle,
      // The cancel reaches an activity on its next heartbeat: do not let the SDK hold heartbeats back.
      maxHeartbeatThrottleInterval: '200ms',
      defaultHeartbeatThrottleInterval: '200ms',
    });
    let started!: Started;
    try {
      await worker.runUntil(async () => {
        started = await start({ ...deps, config: runConfig });
        const row = (await getOperation(deps.db, started.operationId))!;
        const handle = deps.temporal.workflow.getHandle(workflowIdFor(started.slug), row.runId ?? undefined);
        const ended = handle.result().then(
          () => 'ended' as const,
          () => 'ended' as const,
        );
        void ended.then(() => point?.runClosed());
        if (point?.injection.mode === 'cancel') {
          // A run that ends before reaching the point is reported by the caller's assertions.
          if ((await Promise.race([point.reached.then(() => 'reached' as const), ended])) === 'reached') {
            await cancel(deps, row, actor);
            point.cancelSent();
          }
        }
        await ended;
      });
    } finally {
      await connection.close();
    }
    const operation = (await getOperation(deps.db, started.operationId))!;
    const instance = (await findInstance(deps.db, started.slug))!.instance;
    return { operation, instance, ...(point ? { injected: { reached: point.wasReached, sideEffectDone: point.sideEffectDone } } : {}) };
  }

  return {
    config,
    world,
    provision(slug, { plan = 'starter', version = config.defaultVersion, injection } = {}) {
      return run(injection, async (runDeps) => {
        const { operation } = await provision(
          runDeps,
          { name: `Real saga ${slug}`, slug, plan, ownerEmail: 'saga@shipyard.test', version },
          actor,
          {},
        );
        return { slug, operationId: operation.id };
      });
    },
    operate(slug, kind, { request = {}, injection } = {}) {
      return run(injection, async (runDeps) => {
        const found = await findInstance(deps.db, slug);
        if (!found) throw new Error(`no instance ${slug} in the catalogue`);
        const operation = await startOnInstance(runDeps, found, kind, actor, request);
        return { slug, operationId: operation.id };
      });
    },
    async close() {
      await world.close();
      await deps.close();
    },
  };
}

/**
 * The activity that does each step with a side effect (or waits on one), per operation kind. The
 * first is the claim: its side effect is the instance's status in the catalogue. Reads are left
 * out: there is nothing for them to leave.
 */
export const stepActivities = {
  provision: {
    'record instance': 'claimInstance',
    'create database': 'ensureTenantDatabase',
    'create namespace': 'applyNamespace',
    'write secrets': 'writeAppSecret',
    'deploy app': 'applyWorkload',
    'publish DNS record': 'upsertDnsRecord',
    'request certificate': 'applyCertificate',
    'wait for certificate': 'waitForCertificateReady',
    'create ingress': 'applyIngress',
    'wait for rollout': 'waitForRollout',
  },
  upgrade: { 'record upgrading': 'claimInstance', 'apply new version': 'applyWorkload', 'wait for rollout': 'waitForRollout' },
  suspend: { 'record suspending': 'claimInstance', 'scale to zero': 'scaleWorkload', 'wait for pods to stop': 'waitForRollout' },
  resume: { 'record resuming': 'claimInstance', 'scale up': 'scaleWorkload', 'wait for rollout': 'waitForRollout' },
  teardown: {
    'record deleting': 'claimInstance',
    'delete ingress': 'deleteIngress',
    'delete certificate': 'deleteCertificate',
    'delete DNS record': 'deleteDnsRecord',
    'delete namespace': 'deleteNamespace',
    'drop database': 'dropTenantDatabase',
  },
} as const satisfies Partial<Record<InstanceOperationKind | 'provision', Record<string, ActivityName>>>;

export const modes = ['fail-after', 'cancel'] as const;
