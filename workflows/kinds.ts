// Compile-time only: each operation kind's table entry (domain/operation-kinds.ts) names a runbook
// exported by this bundle, and that runbook takes exactly the input the entry builds. Renaming a
// runbook or changing its input without its entry (or the reverse) fails the type check.
import type { OperationKind, OperationKindSpecs, OperationInputs } from '../domain/operation-kinds';
import type { OperationResult } from '../domain/operations';
import type * as workflows from './index';

type RunbookOf<K extends OperationKind> = (typeof workflows)[OperationKindSpecs[K]['workflowType']];
type EveryKind<T extends Record<OperationKind, true>> = T;

export type RunbooksTakeTheirKindsInput = EveryKind<{
  [K in OperationKind]: RunbookOf<K> extends (input: OperationInputs[K]) => Promise<OperationResult> ? true : false;
}>;
