// Instances and operations as users see them, built from catalogue rows (and, for a running
// operation, the live state read from its workflow — lifecycle/live.ts). Pure: no I/O here.
import type { Config } from '../domain/config';
import type { Health } from '../domain/health';
import { hostnameFor, namespaceFor, type InstanceStatus, type OperationStatus, type Step } from '../domain/instance';
import { shownStatus, type OperationKind } from '../domain/operation-kinds';
import type { EventRow } from '../db/events';
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
  /** The Temporal run behind it: `instance:<slug>` and, once started, its run id. */
  workflowId: string;
  runId?: string;
  /** That run in the Temporal UI, when SHIPYARD_TEMPORAL_UI_URL is set. */
  temporalUiUrl?: string;
}

/** One line of an instance's audit trail as users see it (GET /v1/instances/{id}/events, the event streams). */
export interface EventView {
  id: number;
  at: string;
  actor: string;
  action: string;
  outcome: string;
  operationId?: string;
  message?: string;
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

/** A run's page in the Temporal UI, when the UI's address is configured. */
export function temporalUiUrlFor(config: Pick<Config, 'temporalUiUrl' | 'temporalNamespace'>, workflowId: string, runId: string): string | undefined {
  if (!config.temporalUiUrl) return undefined;
  const base = config.temporalUiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

/** The operation as `state` has it (the row's own when not given). */
export function viewOf(config: Config, row: OperationRow, state: LiveState = stateOf(row)): OperationView {
  const temporalUiUrl = row.runId ? temporalUiUrlFor(config, row.workflowId, row.runId) : undefined;
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
    workflowId: row.workflowId,
    ...(row.runId ? { runId: row.runId } : {}),
    ...(temporalUiUrl ? { temporalUiUrl } : {}),
  };
}

/** A just-started operation: running, its steps all pending. */
export const startedView = (config: Config, row: OperationRow): OperationView => viewOf(config, row, { status: 'running', steps: row.steps });

export const eventView = (e: EventRow): EventView => ({
  id: e.id,
  at: e.at.toISOString(),
  actor: e.actor,
  action: e.action,
  outcome: e.outcome,
  ...(e.operationId ? { operationId: e.operationId } : {}),
  ...(e.message ? { message: e.message } : {}),
});

/** An instance as the catalogue has it, with no call to Temporal: for lists, where a page must cost a bounded number of calls. */
export function listedInstanceView(config: Config, { instance, running }: InstanceWithOperation): InstanceView {
  return toInstanceView(config, instance, running ? viewOf(config, running) : null);
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
