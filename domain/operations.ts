// The contract between the API (which starts and queries workflows) and the workflows.
// Pure types and names only: importable from workflow code and from Node code alike.
import type { InstanceStatus, OperationKind, OperationStatus, Plan, Step } from './instance';

/** Every mutating operation on an instance runs as a workflow with this id, so Temporal itself
 *  guarantees one at a time per instance; each operation is a separate run of that id. */
export const workflowIdFor = (slug: string): string => `instance:${slug}`;

/** Query answered by every operation workflow: its steps so far. */
export const progressQueryName = 'progress';

export interface OperationProgress {
  kind: OperationKind;
  steps: Step[];
}

/** Settings an operation needs to orchestrate (not to do I/O): fixed at start, recorded in history. */
export interface OperationSettings {
  rolloutTimeoutSeconds: number;
  /** How long pods may stay unschedulable before a rollout wait gives up early. */
  unschedulableGraceSeconds: number;
}

export interface OperationInputBase {
  operationId: string;
  instanceId: string;
  slug: string;
  /** Who asked (API key name), for the audit trail. */
  actor: string;
  settings: OperationSettings;
  /** The status the instance had when the operation was accepted: the run's first step moves it
   *  from there (compare-and-set), and an operation that fails before changing anything puts it back. */
  fromStatus: InstanceStatus;
}

export interface ProvisionInput extends OperationInputBase {
  plan: Plan;
  version: string;
}

export interface UpgradeInput extends OperationInputBase {
  version: string;
  /** The instance's plan: the workload is re-applied whole (server-side apply owns every field). */
  plan: Plan;
}

/** Resume scales back to `plan.replicas`. */
export interface ResumeInput extends OperationInputBase {
  plan: Plan;
}

/** Moves an instance from `plan` (restored if the change fails) to `newPlan`. */
export interface ChangePlanInput extends OperationInputBase {
  plan: Plan;
  newPlan: Plan;
}

export type SuspendInput = OperationInputBase;
export type TeardownInput = OperationInputBase;
export type CleanupInput = OperationInputBase;

/** Each kind's workflow input (domain/operation-kinds.ts builds them; workflows/index.ts checks each runbook takes its own). */
export interface OperationInputs {
  provision: ProvisionInput;
  upgrade: UpgradeInput;
  suspend: SuspendInput;
  resume: ResumeInput;
  change_plan: ChangePlanInput;
  teardown: TeardownInput;
  cleanup: CleanupInput;
}

/** What every operation workflow returns; the catalogue row is written from it by the workflow itself. */
export interface OperationResult {
  status: Exclude<OperationStatus, 'running'>;
  steps: Step[];
  error?: string;
}

/** Memo stamped on each workflow run so the UI and the API can tie a run to its catalogue row. */
export interface OperationMemo {
  operationId: string;
  instanceId: string;
  kind: OperationKind;
}
