// Every operation Shipyard runs on an instance, declared once: which workflow runs it, what the
// instance shows while it runs (and whether only a running operation explains that status),
// which settled statuses it may start from, how its input is built, how callers ask for it (route,
// body, role), which webhook event its success announces, whether the instance is billed while it
// runs, and what the instance becomes when a run ends without recording its result. The API, the
// catalogue, the reconciler, metering, webhooks and the worker all read this table; adding an
// operation is one entry here plus its runbook in workflows/ (which checks at compile time that
// the runbook named here takes the input built here).
//
// Pure (no I/O, no imports from above domain/): workflow code imports it too.
import type { ApiRole } from './api-keys';
import type { Config } from './config';
import type { BackupKind, BackupSource } from './backups';
import type { Placement } from './clusters';
import type { InstanceStatus, Plan } from './instance';
import { instanceStatuses } from './instance';
import { clusterNamePattern, regionPattern, SLUG_MAX, SLUG_MIN, slugPattern, textPattern, versionPattern } from './validation';
import type { WebhookEventType } from './webhooks';

/** Every kind, in the order of the catalogue's enum (a new kind is added last, with its migration). */
export const operationKinds = ['provision', 'upgrade', 'suspend', 'resume', 'change_plan', 'teardown', 'cleanup', 'backup', 'restore', 'rotate_credentials', 'move'] as const;
export type OperationKind = (typeof operationKinds)[number];

/** Settings an operation needs to orchestrate (not to do I/O): fixed at start, recorded in history. */
export interface OperationSettings {
  rolloutTimeoutSeconds: number;
  /** How long pods may stay unschedulable before a rollout wait gives up early. */
  unschedulableGraceSeconds: number;
  /** How long a delete waits before it purges, unless the request says otherwise (SHIPYARD_DELETE_GRACE_HOURS). */
  deleteGraceSeconds?: number;
  /**
   * How a provision gives the instance TLS (SHIPYARD_TLS_MODE): a Certificate of its own, or the
   * shared wildcard. Runs started before the setting existed carry none: per instance.
   */
  tlsMode?: Config['tlsMode'];
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
  /**
   * The cluster the instance is placed in (multi-cluster installs): the run's cluster activities go
   * to its queue. Absent in a single-cluster install, and in runs started before placement existed.
   */
  placement?: Placement;
}

export interface ProvisionInput extends OperationInputBase {
  plan: Plan;
  version: string;
  /** A clone: the new database is restored from this backup (of another instance) before the app starts. */
  fromBackup?: BackupSource;
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
export type CleanupInput = OperationInputBase;

/**
 * A delete: serving stops at once, a final backup is taken, and the purge waits `graceSeconds`
 * (an undelete meanwhile brings the instance back at `plan.replicas`). Runs started before the
 * grace period existed carry neither field and purge at once.
 */
export interface TeardownInput extends OperationInputBase {
  graceSeconds?: number;
  plan?: Plan;
}

export interface BackupInput extends OperationInputBase {
  backupKind: Extract<BackupKind, 'manual' | 'scheduled'>;
}

/** Puts the instance's data and configuration back as they were in `backup` (of this instance). */
export interface RestoreInput extends OperationInputBase {
  backup: BackupSource;
  plan: Plan;
}

/**
 * New database credentials and a new APP_SECRET for the instance (workflows/rotate-credentials.ts).
 * The plan gives the connection limit of the login role the app moves to. No secret is ever here:
 * they are made and stored by the activities.
 */
export interface RotateCredentialsInput extends OperationInputBase {
  plan: Plan;
}

/**
 * Moves an instance from the cluster it is placed in (`placement`) to `target` (workflows/move.ts).
 * The plan sizes what is built there; the version is the one it runs.
 */
export interface MoveInput extends OperationInputBase {
  placement: Placement;
  target: Placement;
  plan: Plan;
  version: string;
}

/** Each kind's workflow input, built by its entry below; workflows/kinds.ts checks that each runbook takes its own. */
export interface OperationInputs {
  provision: ProvisionInput;
  upgrade: UpgradeInput;
  suspend: SuspendInput;
  resume: ResumeInput;
  change_plan: ChangePlanInput;
  teardown: TeardownInput;
  cleanup: CleanupInput;
  backup: BackupInput;
  restore: RestoreInput;
  rotate_credentials: RotateCredentialsInput;
  move: MoveInput;
}

/** What a request for an operation may carry beyond the instance itself. */
export interface OperationRequest {
  version?: string;
  /** The plan to move to (change_plan), as the catalogue has it. */
  plan?: Plan;
  /** The backup to restore (restore), as the catalogue has it. */
  backup?: BackupSource & { status: string };
  /** Why a backup is taken (backup): manual unless the backup sweep asks. */
  backupKind?: BackupInput['backupKind'];
  /** Seconds before a delete purges (teardown); the configured grace when not given. */
  graceSeconds?: number;
  /** The cluster to move to (move), placed: registered, online and with room for the plan. */
  target?: Placement;
}

/** The instance as the table needs to see it. */
export interface InstanceFacts {
  slug: string;
  status: InstanceStatus;
  version: string;
  plan: string;
  /** The cluster it is placed in (multi-cluster installs); null or absent otherwise. */
  cluster?: string | null;
}

/**
 * How a caller asks for the operation: `path` is under /v1, relative to the instance's
 * (`/instances/:idOrSlug`) except for provision, which makes the instance. `body` is a JSON Schema
 * (plain, so workflow code can import this table); null = the request has no body.
 */
export interface OperationRoute {
  method: 'POST' | 'DELETE';
  path: string;
  role: ApiRole;
  summary: string;
  description: string;
  body: JsonObjectSchema | null;
  /** Query parameters (JSON Schema), merged into the request beside the body. */
  query?: JsonObjectSchema;
  /** A stronger role than `role` for some requests (e.g. a delete that skips the grace period). */
  roleFor?(request: Record<string, unknown>): ApiRole;
}

export interface JsonObjectSchema {
  type: 'object';
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
  additionalProperties: false;
}

export interface OperationKindSpec<K extends OperationKind = OperationKind> {
  workflowType: string;
  /**
   * The status the instance shows while the operation runs (set by the run's first step); null =
   * it keeps the status it had (a backup: the instance serves on, as it was).
   */
  runningStatus: InstanceStatus | null;
  /**
   * Whether only a running operation explains `runningStatus`: an instance left in it with no
   * operation behind it is stuck, and the reconciler fails it.
   */
  transitional: boolean;
  /** Settled statuses the operation may start from; empty = only on a new instance (provision). */
  startsFrom: readonly InstanceStatus[];
  /** A refusal beyond the status (e.g. upgrading to the version already running). */
  refusal?(instance: InstanceFacts, request: OperationRequest): string | undefined;
  input(base: OperationInputBase, context: { plan: Plan; instance: InstanceFacts; request: OperationRequest }): OperationInputs[K];
  /** The audit trail's line for the request. */
  describe?(instance: InstanceFacts, request: OperationRequest): string;
  /**
   * A run that closed without recording its result (terminated, timed out, failed outside its
   * runbook) may have changed the world halfway: the instance gets this status, and `cleanup`
   * starts the cleanup operation to remove what it may have left.
   */
  abandoned: { status: InstanceStatus | null; cleanup?: boolean };
  /** How callers ask for it; null = only Shipyard itself starts it. */
  route: OperationRoute | null;
  /** The webhook event a success announces (failures announce operation.* events, whatever the kind). */
  succeeded: WebhookEventType | null;
  /** Whether the instance is billed as running while the operation runs (it keeps serving). */
  billedWhileRunning: boolean;
}

const Version = { type: 'string', minLength: 1, maxLength: 128, pattern: versionPattern };
const PlanName = { type: 'string', minLength: 1, maxLength: 64, pattern: textPattern, description: 'a plan name from GET /v1/plans' };
const BackupId = { type: 'string', pattern: '^bak_[0-9a-z]{26}$', description: 'a backup id (bak_…)' };
const instanceOperation = 'Starts an operation: 409 while another one runs on the instance, or when the instance is in no state for it.';

type OperationKindTable = { [K in OperationKind]: OperationKindSpec<K> };

export const operationKindSpecs = {
  provision: {
    workflowType: 'provisionInstance',
    runningStatus: 'provisioning',
    transitional: true,
    startsFrom: [],
    input: (base, { plan, instance, request: { backup } }) => ({
      ...base,
      plan,
      version: instance.version,
      ...(backup ? { fromBackup: { backupId: backup.backupId, instanceId: backup.instanceId, parts: backup.parts } } : {}),
    }),
    describe: (instance) => `provision ${instance.slug} at version ${instance.version}`,
    abandoned: { status: 'failed', cleanup: true },
    route: {
      method: 'POST',
      path: '/instances',
      role: 'operator',
      summary: 'Provision a new instance',
      description:
        'Starts a provision operation. The slug is derived from the name when not given. A plan the cluster has no room for is ' +
        "refused (409) before anything is created; 503 when no worker has reported the cluster's capacity for the task queue. " +
        'With `fromBackup`, a clone: a new instance (its own slug, credentials, DNS name and certificate) whose database holds the data of that backup.',
      body: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100, pattern: textPattern, description: 'display name' },
          slug: {
            type: 'string',
            minLength: SLUG_MIN,
            maxLength: SLUG_MAX,
            pattern: slugPattern,
            description: 'lowercase letters, digits and hyphens; starts with a letter; not reserved',
          },
          plan: PlanName,
          ownerEmail: { type: 'string', format: 'email', maxLength: 254, pattern: textPattern },
          version: Version,
          fromBackup: { ...BackupId, description: 'a clone: a completed backup (of any instance) the new database is restored from; the version defaults to the one backed up' },
          region: {
            type: 'string',
            minLength: 1,
            maxLength: 64,
            pattern: regionPattern,
            description: 'multi-cluster: the region to place the instance in (the online, undrained cluster there with most room; 409 when none has room, 422 when none serves it)',
          },
          cluster: { type: 'string', minLength: 1, maxLength: 63, pattern: clusterNamePattern, description: 'multi-cluster, admin only: the very cluster to place the instance in' },
        },
        required: ['name', 'plan', 'ownerEmail'],
        additionalProperties: false,
      },
      roleFor: (request) => (request.cluster === undefined ? 'operator' : 'admin'),
    },
    succeeded: 'instance.ready',
    billedWhileRunning: false,
  },
  upgrade: {
    workflowType: 'upgradeInstance',
    runningStatus: 'upgrading',
    transitional: true,
    // A failed instance may be upgraded: that is how a failed rollback is repaired. If it has no
    // workload (a failed provision), the upgrade fails at once and the instance stays failed.
    startsFrom: ['ready', 'failed'],
    refusal: (instance, { version }) =>
      instance.status === 'ready' && version === instance.version ? `instance ${instance.slug} already runs version ${version}` : undefined,
    input: (base, { plan, request }) => ({ ...base, plan, version: request.version! }),
    describe: (instance, { version }) => `upgrade ${instance.slug} from ${instance.version} to ${version}`,
    abandoned: { status: 'failed' },
    route: {
      method: 'POST',
      path: '/upgrade',
      role: 'operator',
      summary: 'Upgrade an instance to another app version',
      description: instanceOperation,
      body: { type: 'object', properties: { version: Version }, required: ['version'], additionalProperties: false },
    },
    succeeded: 'instance.upgraded',
    billedWhileRunning: true,
  },
  suspend: {
    workflowType: 'suspendInstance',
    runningStatus: 'suspending',
    transitional: true,
    startsFrom: ['ready'],
    input: (base) => base,
    abandoned: { status: 'failed' },
    route: { method: 'POST', path: '/suspend', role: 'operator', summary: 'Suspend an instance (scale it to zero)', description: instanceOperation, body: null },
    succeeded: 'instance.suspended',
    billedWhileRunning: true,
  },
  resume: {
    workflowType: 'resumeInstance',
    runningStatus: 'resuming',
    transitional: true,
    startsFrom: ['suspended'],
    input: (base, { plan }) => ({ ...base, plan }),
    abandoned: { status: 'failed' },
    route: { method: 'POST', path: '/resume', role: 'operator', summary: 'Resume a suspended instance', description: instanceOperation, body: null },
    succeeded: 'instance.resumed',
    billedWhileRunning: true,
  },
  change_plan: {
    workflowType: 'changeInstancePlan',
    runningStatus: 'changing_plan',
    transitional: true,
    // A suspended instance gets the new quota and stays at zero replicas.
    startsFrom: ['ready', 'suspended'],
    refusal: (instance, { plan }) => (plan?.name === instance.plan ? `instance ${instance.slug} is already on plan ${instance.plan}` : undefined),
    input: (base, { plan, request }) => ({ ...base, plan, newPlan: request.plan! }),
    describe: (instance, { plan }) => `change ${instance.slug} from plan ${instance.plan} to ${plan?.name}`,
    abandoned: { status: 'failed' },
    route: {
      method: 'POST',
      path: '/plan',
      role: 'operator',
      summary: 'Move an instance to another plan',
      description:
        'Starts a change_plan operation (from ready or suspended): quota, limit range, connection limit and size are changed, ' +
        'after a capacity check; if the new size does not roll out, the previous plan is restored (rolled_back).',
      body: { type: 'object', properties: { plan: PlanName }, required: ['plan'], additionalProperties: false },
    },
    succeeded: null,
    billedWhileRunning: true,
  },
  teardown: {
    workflowType: 'teardownInstance',
    runningStatus: 'deleting',
    transitional: true,
    // From anything but deleted, so a failed or abandoned instance can always be cleaned up and a
    // failed teardown retried.
    startsFrom: instanceStatuses.filter((s) => s !== 'deleted'),
    input: (base, { plan, request }) => ({ ...base, plan, graceSeconds: request.graceSeconds ?? base.settings.deleteGraceSeconds ?? 0 }),
    describe: (instance, { graceSeconds }) =>
      graceSeconds === 0 ? `delete ${instance.slug} and purge it now` : `delete ${instance.slug}`,
    abandoned: { status: 'failed' },
    route: {
      method: 'DELETE',
      path: '',
      role: 'operator',
      summary: 'Delete an instance: it stops serving at once and is purged after the grace period',
      description:
        'Starts a delete: the app is scaled to zero, a `final` backup is taken, and the instance stays `deleting` until `purgeAt` ' +
        '(now + SHIPYARD_DELETE_GRACE_HOURS); then its namespace, DNS record and database are removed (its record stays, as deleted). ' +
        '`POST /v1/instances/{idOrSlug}/undelete` before then brings it back. `grace` (hours, admin only) overrides the grace period; ' +
        '`grace=0` purges right after the final backup. ' +
        instanceOperation,
      body: null,
      query: {
        type: 'object',
        // Text, as a query string carries it (this plain schema is not converted): whole hours, at most a year.
        properties: { grace: { type: 'string', pattern: '^(0|[1-9][0-9]{0,3})$', description: 'hours before the purge (admin only; at most 8760)' } },
        additionalProperties: false,
      },
      roleFor: (request) => (request.grace === undefined ? 'operator' : 'admin'),
    },
    succeeded: 'instance.deleted',
    // A delete stops billing the moment it starts.
    billedWhileRunning: false,
  },
  cleanup: {
    workflowType: 'cleanupInstance',
    // Removing what an abandoned provision left: the instance is failed before, during and after.
    runningStatus: 'failed',
    transitional: false,
    startsFrom: ['failed'],
    input: (base) => base,
    describe: (instance) => `remove what the abandoned provision of ${instance.slug} may have left`,
    abandoned: { status: 'failed' },
    route: null,
    succeeded: null,
    billedWhileRunning: false,
  },
  backup: {
    workflowType: 'backupInstance',
    // The instance serves on while its database is dumped (a consistent snapshot).
    runningStatus: null,
    transitional: false,
    startsFrom: ['ready', 'suspended'],
    input: (base, { request }) => ({ ...base, backupKind: request.backupKind ?? 'manual' }),
    describe: (instance, { backupKind }) => `${backupKind ?? 'manual'} backup of ${instance.slug}`,
    abandoned: { status: null },
    route: {
      method: 'POST',
      path: '/backups',
      role: 'operator',
      summary: "Back an instance up (its database, configuration and secrets) to object storage",
      description:
        'Starts a backup operation (from ready or suspended; the instance keeps serving). Its backup shows in ' +
        '`GET /v1/instances/{idOrSlug}/backups` from the start, `running` until it is `completed` or `failed`. ' +
        instanceOperation,
      body: null,
    },
    succeeded: null,
    billedWhileRunning: false,
  },
  restore: {
    workflowType: 'restoreInstance',
    runningStatus: 'restoring',
    transitional: true,
    startsFrom: ['ready'],
    refusal: (instance, { backup }) =>
      backup && backup.status !== 'completed' ? `backup ${backup.backupId} is ${backup.status}; only a completed backup can be restored` : undefined,
    input: (base, { plan, request }) => ({ ...base, plan, backup: { backupId: request.backup!.backupId, instanceId: request.backup!.instanceId, parts: request.backup!.parts } }),
    describe: (instance, { backup }) => `restore ${instance.slug} from backup ${backup?.backupId}`,
    abandoned: { status: 'failed' },
    route: {
      method: 'POST',
      path: '/restore',
      role: 'operator',
      summary: "Put an instance's data and configuration back as they were in one of its backups",
      description:
        'Starts a restore: a `pre-restore` backup first, then the backup is restored into a new database beside the live one, ' +
        'the app stopped, the databases swapped, the configuration (version, app secret) put back and the app started again. ' +
        'A failed or cancelled restore leaves the live data as it was. A backup of another instance is refused (422: clone it ' +
        'with `POST /v1/instances` and `fromBackup`). ' +
        instanceOperation,
      body: { type: 'object', properties: { backupId: BackupId }, required: ['backupId'], additionalProperties: false },
    },
    succeeded: 'instance.restored',
    billedWhileRunning: false,
  },
  rotate_credentials: {
    workflowType: 'rotateCredentials',
    // The instance serves on: the app rolls over to the new credentials while the old ones still work.
    runningStatus: null,
    transitional: false,
    // A suspended instance too (its credentials age all the same): with no pods there is nothing to
    // roll, and it starts on the new credentials when it is resumed.
    startsFrom: ['ready', 'suspended'],
    input: (base, { plan }) => ({ ...base, plan }),
    describe: (instance) => `rotate the database password and app secret of ${instance.slug}`,
    // A run cut short leaves the app on a working login (the old or the new); the next rotation
    // starts from whichever the Secret names.
    abandoned: { status: null },
    route: {
      method: 'POST',
      path: '/rotate-credentials',
      role: 'operator',
      summary: "Rotate an instance's database password and app secret",
      description:
        'Starts a rotate_credentials operation (from ready or suspended; the instance keeps serving): a new database login ' +
        'with a new password and a new APP_SECRET are written to the app\'s Secret, the app restarts on them (a rolling ' +
        'restart), and only once it has rolled out does the previous database login stop working. If the rollout fails, ' +
        'the previous credentials are put back and the app rolled back to them (rolled_back). ' +
        instanceOperation,
      body: null,
    },
    succeeded: 'instance.credentials_rotated',
    billedWhileRunning: false,
  },
  move: {
    workflowType: 'moveInstance',
    // The instance serves on from its cluster until its DNS name points at the new one.
    runningStatus: null,
    transitional: false,
    startsFrom: ['ready'],
    refusal: (instance, { target }) => {
      if (!instance.cluster) return `instance ${instance.slug} is not placed in a cluster; only a multi-cluster install moves instances`;
      return target?.cluster === instance.cluster ? `instance ${instance.slug} is already in cluster ${instance.cluster}` : undefined;
    },
    input: (base, { plan, instance, request }) => ({ ...base, placement: base.placement!, target: request.target!, plan, version: instance.version }),
    describe: (instance, { target }) => `move ${instance.slug} from cluster ${instance.cluster} to cluster ${target?.cluster}`,
    // A run cut short may have left a copy in the target cluster (the reconciler records it failed);
    // the instance itself is wherever the catalogue says, and serves from there.
    abandoned: { status: null },
    route: {
      method: 'POST',
      path: '/move',
      role: 'admin',
      summary: 'Move an instance to another cluster',
      description:
        'Starts a move (from ready; the instance keeps serving from its cluster meanwhile): a `pre-move` backup, the app built in the ' +
        'target cluster (its data: the same tenant database when both clusters use one tenant Postgres, else restored from the backup, ' +
        'with the app stopped from the backup on), its DNS name switched to the target\'s ingress, then everything in the source cluster ' +
        'removed. A failure or cancel before the DNS switch removes what was built in the target: the instance serves from the source ' +
        'as before. 422 (`placement-unserved`) for a cluster that is not registered; 409 (`placement-refused`) for one that is drained, ' +
        'offline or full. ' +
        instanceOperation,
      body: {
        type: 'object',
        properties: { cluster: { type: 'string', minLength: 1, maxLength: 63, pattern: clusterNamePattern, description: 'the cluster to move the instance to (GET /v1/clusters)' } },
        required: ['cluster'],
        additionalProperties: false,
      },
    },
    succeeded: null,
    billedWhileRunning: false,
  },
} as const satisfies OperationKindTable;

export type OperationKindSpecs = typeof operationKindSpecs;

export function kindSpec<K extends OperationKind>(kind: K): OperationKindSpecs[K] {
  return operationKindSpecs[kind];
}

/** Why `kind` may not start on `instance` now (its status or the request), or undefined when it may. */
export function startRefusal(kind: OperationKind, instance: InstanceFacts, request: OperationRequest): string | undefined {
  const s: OperationKindSpec = operationKindSpecs[kind] as OperationKindSpec;
  if (!s.startsFrom.includes(instance.status)) {
    const allowed = s.startsFrom.length ? s.startsFrom.join(' or ') : 'a new instance';
    return `instance ${instance.slug} is ${instance.status}; ${kind} starts only from ${allowed}`;
  }
  return s.refusal?.(instance, request);
}

const kindEntries = () => Object.entries(operationKindSpecs) as [OperationKind, OperationKindSpec][];

/** The status an instance shows while an operation of each kind runs (null: the status it had). */
export const statusWhileRunning = Object.fromEntries(kindEntries().map(([kind, s]) => [kind, s.runningStatus])) as Record<OperationKind, InstanceStatus | null>;

/** The status an instance stored as `stored` shows while `running` (if any) runs. */
export function shownStatus(stored: InstanceStatus, running: OperationKind | null | undefined): InstanceStatus {
  return (running && statusWhileRunning[running]) || stored;
}

/** Kinds whose run moves the instance to a status of their own. */
export const kindsThatMoveStatus: readonly OperationKind[] = kindEntries().filter(([, s]) => s.runningStatus !== null).map(([k]) => k);

const runningStatusOf = ([, s]: [OperationKind, OperationKindSpec]): InstanceStatus[] => (s.runningStatus === null ? [] : [s.runningStatus]);

/** Statuses only a running operation explains (see OperationKindSpec.transitional). */
export const transitionalStatuses: readonly InstanceStatus[] = [...new Set(kindEntries().filter(([, s]) => s.transitional).flatMap(runningStatusOf))];

/** Running statuses of the kinds whose instance keeps serving, and is billed, while they run. */
export const billedRunningStatuses: readonly InstanceStatus[] = kindEntries().filter(([, s]) => s.billedWhileRunning).flatMap(runningStatusOf);
