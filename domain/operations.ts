// The contract between the lifecycle (which starts and queries workflows) and the workflows, beyond
// each kind's input (declared with its kind in operation-kinds.ts). Pure types and names only:
// importable from workflow code and from Node code alike.
import type { OperationStatus, Step } from './instance';
import type { OperationKind } from './operation-kinds';

/** Every mutating operation on an instance runs as a workflow with this id, so Temporal itself
 *  guarantees one at a time per instance; each operation is a separate run of that id. */
export const workflowIdFor = (slug: string): string => `instance:${slug}`;

/** Query answered by every operation workflow: its steps so far. */
export const progressQueryName = 'progress';

/**
 * The update a delete in its grace period answers: the instance comes back as it was. Its argument
 * is who asked (for the audit trail); it is refused once the purge has begun.
 */
export const undeleteUpdateName = 'undelete';

export interface OperationProgress {
  kind: OperationKind;
  steps: Step[];
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
