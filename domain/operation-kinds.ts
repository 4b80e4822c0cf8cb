// Every operation Shipyard runs on an instance, declared once: which workflow runs it, what the
// instance shows while it runs, which settled statuses it may start from, how its input is built,
// and what the instance becomes when a run ends without recording its result. The API, the
// catalogue, the reconciler and the worker all read this table; adding an operation is one entry
// here plus its runbook in workflows/.
//
// Pure (no I/O); the workflow types are imported as types only.
import type * as workflows from '../workflows';
import type { InstanceStatus, OperationKind, Plan } from './instance';
import { instanceStatuses } from './instance';
import type { OperationInputBase } from './operations';

type Workflows = typeof workflows;
type WorkflowName = keyof Workflows;
export type InputOf<W extends WorkflowName> = Parameters<Workflows[W]>[0];

/** What a request for an operation may carry beyond the instance itself. */
export interface OperationRequest {
  version?: string;
  /** The plan to move to (change_plan), as the catalogue has it. */
  plan?: Plan;
}

/** The instance as the table needs to see it. */
export interface InstanceFacts {
  slug: string;
  status: InstanceStatus;
  version: string;
  plan: string;
}

export interface OperationKindSpec<W extends WorkflowName = WorkflowName> {
  workflowType: W;
  /** The status the instance shows while the operation runs (set by the run's first step). */
  runningStatus: InstanceStatus;
  /** Settled statuses the operation may start from; empty = only on a new instance (provision). */
  startsFrom: readonly InstanceStatus[];
  /** A refusal beyond the status (e.g. upgrading to the version already running). */
  refusal?(instance: InstanceFacts, request: OperationRequest): string | undefined;
  input(base: OperationInputBase, context: { plan: Plan; instance: InstanceFacts; request: OperationRequest }): InputOf<W>;
  /** The audit trail's line for the request. */
  describe?(instance: InstanceFacts, request: OperationRequest): string;
  /**
   * A run that closed without recording its result (terminated, timed out, failed outside its
   * runbook) may have changed the world halfway: the instance gets this status, and `cleanup`
   * starts the cleanup operation to remove what it may have left.
   */
  abandoned: { status: InstanceStatus; cleanup?: boolean };
}

const spec = <W extends WorkflowName>(s: OperationKindSpec<W>): OperationKindSpec<W> => s;

export const operationKindSpecs = {
  provision: spec({
    workflowType: 'provisionInstance',
    runningStatus: 'provisioning',
    startsFrom: [],
    input: (base, { plan, instance }) => ({ ...base, plan, version: instance.version }),
    describe: (instance) => `provision ${instance.slug} at version ${instance.version}`,
    abandoned: { status: 'failed', cleanup: true },
  }),
  upgrade: spec({
    workflowType: 'upgradeInstance',
    runningStatus: 'upgrading',
    // A failed instance may be upgraded: that is how a failed rollback is repaired. If it has no
    // workload (a failed provision), the upgrade fails at once and the instance stays failed.
    startsFrom: ['ready', 'failed'],
    refusal: (instance, { version }) =>
      instance.status === 'ready' && version === instance.version ? `instance ${instance.slug} already runs version ${version}` : undefined,
    input: (base, { plan, request }) => ({ ...base, plan, version: request.version! }),
    describe: (instance, { version }) => `upgrade ${instance.slug} from ${instance.version} to ${version}`,
    abandoned: { status: 'failed' },
  }),
  suspend: spec({
    workflowType: 'suspendInstance',
    runningStatus: 'suspending',
    startsFrom: ['ready'],
    input: (base) => base,
    abandoned: { status: 'failed' },
  }),
  resume: spec({
    workflowType: 'resumeInstance',
    runningStatus: 'resuming',
    startsFrom: ['suspended'],
    input: (base, { plan }) => ({ ...base, plan }),
    abandoned: { status: 'failed' },
  }),
  change_plan: spec({
    workflowType: 'changeInstancePlan',
    runningStatus: 'changing_plan',
    // A suspended instance gets the new quota and stays at zero replicas.
    startsFrom: ['ready', 'suspended'],
    refusal: (instance, { plan }) => (plan?.name === instance.plan ? `instance ${instance.slug} is already on plan ${instance.plan}` : undefined),
    input: (base, { plan, request }) => ({ ...base, plan, newPlan: request.plan! }),
    describe: (instance, { plan }) => `change ${instance.slug} from plan ${instance.plan} to ${plan?.name}`,
    abandoned: { status: 'failed' },
  }),
  teardown: spec({
    workflowType: 'teardownInstance',
    runningStatus: 'deleting',
    // From anything but deleted, so a failed or abandoned instance can always be cleaned up and a
    // failed teardown retried.
    startsFrom: instanceStatuses.filter((s) => s !== 'deleted'),
    input: (base) => base,
    abandoned: { status: 'failed' },
  }),
  cleanup: spec({
    workflowType: 'cleanupInstance',
    // Removing what an abandoned provision left: the instance is failed before, during and after.
    runningStatus: 'failed',
    startsFrom: ['failed'],
    input: (base) => base,
    describe: (instance) => `remove what the abandoned provision of ${instance.slug} may have left`,
    abandoned: { status: 'failed' },
  }),
} as const satisfies Record<OperationKind, OperationKindSpec>;

export type OperationKindSpecs = typeof operationKindSpecs;

export function kindSpec<K extends OperationKind>(kind: K): OperationKindSpecs[K] {
  return operationKindSpecs[kind];
}

/** Why `kind` may not start on `instance` now (its status or the request), or undefined when it may. */
export function startRefusal(kind: OperationKind, instance: InstanceFacts, request: OperationRequest): string | undefined {
  const s: OperationKindSpec = operationKindSpecs[kind];
  if (!s.startsFrom.includes(instance.status)) {
    const allowed = s.startsFrom.length ? s.startsFrom.join(' or ') : 'a new instance';
    return `instance ${instance.slug} is ${instance.status}; ${kind} starts only from ${allowed}`;
  }
  return s.refusal?.(instance, request);
}

/** The status an instance shows while an operation of each kind runs. */
export const statusWhileRunning = Object.fromEntries(
  Object.entries(operationKindSpecs).map(([kind, s]) => [kind, s.runningStatus]),
) as Record<OperationKind, InstanceStatus>;
