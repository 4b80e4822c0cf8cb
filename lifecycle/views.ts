// Instances and operations as users see them, built from catalogue rows (and, for a running
// operation, the live state read from its workflow — lifecycle/live.ts). Pure: no I/O here.
import type { Config } from '../domain/config';
import type { Health } from '../domain/health';
import { hostnameFor, namespaceFor, type InstanceStatus, type OperationStatus, type Step } from '../domain/instance';
import { shownStatus, type OperationKind } from '../domain/operation-kinds';
import type { InstanceRow, InstanceWithOperation } from '../db/instances';
import type { OperationRow } from '../db/operations';

export interface OperationView {
  id: string;
  instanceId: string;
  kind: OperationKind;
  status: OperationStatus;
  steps: Step[];
  error?: string;
  actor: string;
  startedAt: string;
  endedAt?: string;
}

export interface InstanceView {
  id: string;
  slug: string;
  name: string;
  plan: string;
  version: string;
  status: InstanceStatus;
  hostname: string;
  namespace: string;
  ownerEmail: string;
  createdAt: string;
  updatedAt: string;
  health: Health;
  healthCheckedAt?: string;
  /** While a delete waits out its grace period: when it purges. */
  purgeAt?: string;
  /** The cluster it is placed in (multi-cluster installs). */
  cluster?: string;
  currentOperation: OperationView | null;
}

/** What is known of an operation now: from its row, or live from its run while it runs. */
export interface LiveState {
  status: OperationStatus;
  steps: Step[];
  error?: string;
  endedAt?: Date;
}

export const stateOf = (row: OperationRow): LiveState => ({
  status: row.status,
  steps: row.steps,
  error: row.error ?? undefined,
  endedAt: row.endedAt ?? undefined,
});

/** The operation as `state` has it (the row's own when not given). */
export function viewOf(row: OperationRow, state: LiveState = stateOf(row)): OperationView {
  return {
    id: row.id,
    instanceId: row.instanceId,
    kind: row.kind,
    status: state.status,
    steps: state.steps,
    ...(state.error ? { error: state.error } : {}),
    actor: row.actor,
    startedAt: row.startedAt.toISOString(),
    ...(state.endedAt ? { endedAt: state.endedAt.toISOString() } : {}),
  };
}

/** A just-started operation: running, its steps all pending. */
export const startedView = (row: OperationRow): OperationView => viewOf(row, { status: 'running', steps: row.steps });

/** An instance as the catalogue has it, with no call to Temporal: for lists, where a page must cost a bounded number of calls. */
export function listedInstanceView(config: Config, { instance, running }: InstanceWithOperation): InstanceView {
  return toInstanceView(config, instance, running ? viewOf(running) : null);
}

export function toInstanceView(config: Config, instance: InstanceRow, active: OperationView | null): InstanceView {
  return {
    id: instance.id,
    slug: instance.slug,
    name: instance.name,
    plan: instance.plan,
    version: instance.version,
    status: shownStatus(instance.status, active?.kind),
    hostname: hostnameFor(instance.slug, config.baseDomain),
    namespace: namespaceFor(instance.slug),
    ownerEmail: instance.ownerEmail,
    createdAt: instance.createdAt.toISOString(),
    updatedAt: instance.updatedAt.toISOString(),
    health: instance.health,
    ...(instance.healthCheckedAt ? { healthCheckedAt: instance.healthCheckedAt.toISOString() } : {}),
    ...(instance.purgeAt && instance.status !== 'deleted' ? { purgeAt: instance.purgeAt.toISOString() } : {}),
    ...(instance.cluster ? { cluster: instance.cluster } : {}),
    currentOperation: active,
  };
}
