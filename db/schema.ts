// The catalogue: the source of truth for the SQL migrations in db/migrations
// (`npm run db:generate`). Enum values come from the domain so the database rejects
// anything the code would not understand.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  bigserial,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { apiRoles } from '../domain/api-keys';
import { backupKinds, backupStatuses, type BackupPart } from '../domain/backups';
import { healths, sweepStatuses, type HealthCheck, type OfflineCluster } from '../domain/health';
import { instanceStatuses, operationStatuses, type Step } from '../domain/instance';
import { operationKinds } from '../domain/operation-kinds';
import { invoiceStatuses } from '../domain/invoices';
import { meters } from '../domain/metering';
import { deliveryStatuses, type WebhookEventType } from '../domain/webhooks';

export const instanceStatusEnum = pgEnum('instance_status', instanceStatuses);
export const operationKindEnum = pgEnum('operation_kind', operationKinds);
export const operationStatusEnum = pgEnum('operation_status', operationStatuses);
export const apiRoleEnum = pgEnum('api_role', apiRoles);
export const meterEnum = pgEnum('usage_meter', meters);
export const invoiceStatusEnum = pgEnum('invoice_status', invoiceStatuses);
export const healthEnum = pgEnum('instance_health', healths);

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const plans = pgTable(
  'plans',
  {
    name: text('name').primaryKey(),
    cpu: text('cpu').notNull(),
    memory: text('memory').notNull(),
    pods: integer('pods').notNull(),
    replicas: integer('replicas').notNull(),
    pricePerHourCents: integer('price_per_hour_cents').notNull(),
    suspendedPricePerHourCents: integer('suspended_price_per_hour_cents').notNull().default(0),
    // The tenant role's CONNECTION LIMIT: one tenant must not exhaust the server's max_connections.
    dbConnections: integer('db_connections').notNull().default(10),
    // Null: no scheduled backups. Hours, fractions allowed (a test plan backs up every few seconds).
    backupEveryHours: doublePrecision('backup_every_hours'),
    backupKeepCount: integer('backup_keep_count').notNull().default(7),
    backupKeepDays: integer('backup_keep_days').notNull().default(30),
    // Backup storage is billed per GB-month, pro rata per hour (a 730-hour month).
    backupPricePerGbMonthCents: integer('backup_price_per_gb_month_cents').notNull().default(0),
  },
  (t) => [
    check('plans_backup_every_hours_positive', sql`${t.backupEveryHours} is null or ${t.backupEveryHours} > 0`),
    check('plans_backup_keep_count_positive', sql`${t.backupKeepCount} > 0`),
    check('plans_backup_keep_days_not_negative', sql`${t.backupKeepDays} >= 0`),
    check('plans_backup_price_not_negative', sql`${t.backupPricePerGbMonthCents} >= 0`),
    check('plans_db_connections_positive', sql`${t.dbConnections} > 0`),
    check('plans_pods_positive', sql`${t.pods} > 0`),
    check('plans_replicas_positive', sql`${t.replicas} > 0`),
    check('plans_price_not_negative', sql`${t.pricePerHourCents} >= 0`),
    check('plans_suspended_price_not_negative', sql`${t.suspendedPricePerHourCents} >= 0`),
  ],
);

// Rows stay after teardown (status `deleted`) so the audit trail and operations keep their
// subject, and a slug is never handed to a second customer.
export const instances = pgTable(
  'instances',
  {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique('instances_slug_unique'),
  name: text('name').notNull(),
  plan: text('plan')
    .notNull()
    .references(() => plans.name),
  version: text('version').notNull(),
  status: instanceStatusEnum('status').notNull(),
  ownerEmail: text('owner_email').notNull(),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  // The last health check's verdict, apart from the lifecycle status (a `ready` instance whose
  // Service was deleted is still `ready`, and `unhealthy`).
  health: healthEnum('health').notNull().default('unknown'),
  healthCheckedAt: timestamp('health_checked_at', { withTimezone: true }),
  healthChecks: jsonb('health_checks').$type<HealthCheck[]>().notNull().default([]),
  // While a delete waits out its grace period: when it purges (the workflow's timer is the
  // source; the delete writes it here when the timer starts, and an undelete clears it).
  purgeAt: timestamp('purge_at', { withTimezone: true }),
  // When the database password and app secret were last set (provision or rotation): the
  // rotation schedule picks the instances whose credentials are older than SHIPYARD_ROTATE_AFTER_DAYS.
  credentialsRotatedAt: timestamp('credentials_rotated_at', { withTimezone: true }).notNull().defaultNow(),
  // The cluster the instance is placed in (clusters.name); null in a single-cluster install, where
  // every instance lives in the one cluster the workers of SHIPYARD_TASK_QUEUE drive.
  cluster: text('cluster'),
  },
  // The list filters on status and pages by id; a key bound to an owner lists that owner's instances.
  (t) => [index('instances_status_idx').on(t.status, t.id), index('instances_owner_idx').on(t.ownerEmail, t.id)],
);

export const operations = pgTable(
  'operations',
  {
    id: text('id').primaryKey(),
    instanceId: text('instance_id')
      .notNull()
      .references(() => instances.id),
    kind: operationKindEnum('kind').notNull(),
    status: operationStatusEnum('status').notNull(),
    steps: jsonb('steps').$type<Step[]>().notNull().default([]),
    error: text('error'),
    workflowId: text('workflow_id').notNull(),
    // Null only between the insert and the workflow start that follows it.
    runId: text('run_id'),
    actor: text('actor').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
  },
  (t) => [
    index('operations_instance_idx').on(t.instanceId, t.startedAt),
    // At most one running operation per instance, enforced where the rows live: concurrent
    // requests race on this index, not on a read-then-start.
    uniqueIndex('operations_one_running_per_instance')
      .on(t.instanceId)
      .where(sql`${t.status} = 'running'`),
  ],
);

export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    // Deterministic for writes that may be retried (activities), so a retry adds nothing.
    key: text('key').unique('events_key_unique'),
    // Null for events about no instance (API keys).
    instanceId: text('instance_id').references(() => instances.id),
    operationId: text('operation_id').references(() => operations.id, { onDelete: 'set null' }),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    outcome: text('outcome').notNull(),
    message: text('message'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('events_instance_idx').on(t.instanceId, t.id)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    role: apiRoleEnum('role').notNull(),
    // sha256 of the whole key, hex: the key itself is shown once and never stored.
    hash: text('hash').notNull().unique('api_keys_hash_unique'),
    prefix: text('prefix').notNull(),
    // A key bound to one owner (an instance's ownerEmail) sees and acts on that owner's instances
    // only; null = the whole fleet, as its role allows.
    owner: text('owner'),
    createdAt: createdAt(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  // A name is the actor in the audit trail, so two live keys may not share one.
  (t) => [
    uniqueIndex('api_keys_live_name_unique')
      .on(t.name)
      .where(sql`${t.revokedAt} is null`),
  ],
);

export const idempotencyRecords = pgTable(
  'idempotency_records',
  {
    // The caller's key is scoped to the API key that sent it. Not a foreign key: the bootstrap
    // admin key has no row.
    apiKeyId: text('api_key_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    // Null while the first request is still being handled.
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    responseHeaders: jsonb('response_headers').$type<Record<string, string>>(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ name: 'idempotency_records_pk', columns: [t.apiKeyId, t.key] })],
);

// Every status an instance took, with the plan in force, written in the same transaction as the
// status itself: metering reads time spent in each status from here, to the second.
export const instanceStatusChanges = pgTable(
  'instance_status_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    instanceId: text('instance_id')
      .notNull()
      .references(() => instances.id),
    status: instanceStatusEnum('status').notNull(),
    plan: text('plan')
      .notNull()
      .references(() => plans.name),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('instance_status_changes_instance_idx').on(t.instanceId, t.at)],
);

// The metering ledger: append-only, one row per closed hour, instance, meter and plan. The key
// makes a rerun of an hour insert nothing.
export const usageLedger = pgTable(
  'usage_ledger',
  {
    instanceId: text('instance_id')
      .notNull()
      .references(() => instances.id),
    meter: meterEnum('meter').notNull(),
    plan: text('plan')
      .notNull()
      .references(() => plans.name),
    hour: timestamp('hour', { withTimezone: true }).notNull(),
    quantity: bigint('quantity', { mode: 'number' }).notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'usage_ledger_pk', columns: [t.instanceId, t.meter, t.plan, t.hour] }),
    index('usage_ledger_hour_idx').on(t.hour),
  ],
);

// Tenant database sizes sampled during an hour (the largest kept); closing the hour moves the
// maximum into the ledger.
export const storageSamples = pgTable(
  'storage_samples',
  {
    instanceId: text('instance_id')
      .notNull()
      .references(() => instances.id),
    hour: timestamp('hour', { withTimezone: true }).notNull(),
    plan: text('plan')
      .notNull()
      .references(() => plans.name),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ name: 'storage_samples_pk', columns: [t.instanceId, t.hour] })],
);

// The first hour not yet metered, per metering schedule (one per deployment, see scheduleIdFor).
export const meteringCursors = pgTable('metering_cursors', {
  name: text('name').primaryKey(),
  nextHour: timestamp('next_hour', { withTimezone: true }).notNull(),
});

// One invoice per owner (billing account: the instances' owner email) and period; a rerun of a
// period whose invoice is issued adds a new invoice holding only adjustment lines.
export const invoices = pgTable(
  'invoices',
  {
    id: text('id').primaryKey(),
    // INV-YYYYMM-NNNN, numbered in order within the period.
    number: text('number').notNull().unique('invoices_number_unique'),
    ownerEmail: text('owner_email').notNull(),
    period: text('period').notNull(),
    status: invoiceStatusEnum('status').notNull(),
    currency: text('currency').notNull(),
    subtotalCents: integer('subtotal_cents').notNull(),
    createdAt: createdAt(),
    issuedAt: timestamp('issued_at', { withTimezone: true }),
  },
  (t) => [index('invoices_owner_period_idx').on(t.ownerEmail, t.period)],
);

export const invoiceLines = pgTable(
  'invoice_lines',
  {
    invoiceId: text('invoice_id')
      .notNull()
      .references(() => invoices.id),
    position: integer('position').notNull(),
    kind: text('kind', { enum: ['usage', 'adjustment'] }).notNull(),
    instanceId: text('instance_id')
      .notNull()
      .references(() => instances.id),
    slug: text('slug').notNull(),
    plan: text('plan').notNull(),
    meter: meterEnum('meter').notNull(),
    seconds: bigint('seconds', { mode: 'number' }).notNull(),
    unitPriceCents: integer('unit_price_cents').notNull(),
    amountCents: integer('amount_cents').notNull(),
  },
  (t) => [primaryKey({ name: 'invoice_lines_pk', columns: [t.invoiceId, t.position] })],
);

// ---- outbound webhooks

export const deliveryStatusEnum = pgEnum('webhook_delivery_status', deliveryStatuses);

export const webhooks = pgTable('webhooks', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  // Event types, or `*` for all of them.
  events: text('events').array().notNull(),
  description: text('description'),
  // Kept as it is: signing needs the secret itself (a hash would not do), it is shown once at
  // creation and never again, and it is read only by the delivery activity, never carried in a
  // workflow's arguments or history.
  secret: text('secret').notNull(),
  createdAt: createdAt(),
});

// One row per event, written once: every delivery of it (and every retry) sends the same body
// under the same id, so receivers can de-duplicate.
export const webhookEvents = pgTable('webhook_events', {
  id: text('id').primaryKey(),
  // What the event is about, deterministic (an audit event's key and the type), so an activity
  // retry finds the event it made instead of making a second one.
  key: text('key').notNull().unique('webhook_events_key_unique'),
  type: text('type').$type<WebhookEventType>().notNull(),
  payload: jsonb('payload').notNull(),
  createdAt: createdAt(),
});

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    eventId: text('event_id')
      .notNull()
      .references(() => webhookEvents.id),
    status: deliveryStatusEnum('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_webhook_unique').on(t.eventId, t.webhookId),
    index('webhook_deliveries_webhook_idx').on(t.webhookId, t.id),
  ],
);

// ---- health sweeps

export const sweepStatusEnum = pgEnum('health_sweep_status', sweepStatuses);

export const healthSweeps = pgTable('health_sweeps', {
  id: text('id').primaryKey(),
  // The run that does the sweep; unique so a retried start records one sweep.
  workflowId: text('workflow_id').notNull().unique('health_sweeps_workflow_unique'),
  status: sweepStatusEnum('status').notNull().default('running'),
  checked: integer('checked').notNull().default(0),
  healthy: integer('healthy').notNull().default(0),
  degraded: integer('degraded').notNull().default(0),
  unhealthy: integer('unhealthy').notNull().default(0),
  healed: integer('healed').notNull().default(0),
  errors: integer('errors').notNull().default(0),
  // What carried Shipyard's marks with no live instance when this sweep looked (null until it has).
  orphans: jsonb('orphans').$type<{ kind: string; name: string; slug: string; cluster?: string; removed: boolean }[]>(),
  // The clusters offline (no capacity report for three periods) when this sweep last looked: their
  // instances were reported as in an offline cluster, not checked (null for sweeps from before).
  offlineClusters: jsonb('offline_clusters').$type<OfflineCluster[]>(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  endedAt: timestamp('ended_at', { withTimezone: true }),
});

// ---- cluster capacity

// What a provision is admitted against, kept by the workers (the API holds no Kubernetes client):
// the cluster's schedulable allocatable, per task queue since a worker's task queue names the
// cluster it places into. Rewritten by each refresh (activities/capacity.ts).
export const clusterCapacity = pgTable('cluster_capacity', {
  taskQueue: text('task_queue').primaryKey(),
  allocatableCpu: doublePrecision('allocatable_cpu').notNull(),
  allocatableMemoryBytes: doublePrecision('allocatable_memory_bytes').notNull(),
  listedAt: timestamp('listed_at', { withTimezone: true }).notNull(),
});

// The requests.cpu / requests.memory quota each Shipyard namespace holds in that cluster: written
// when an activity applies or deletes one, and replaced by each refresh's listing.
export const namespaceQuotas = pgTable(
  'namespace_quotas',
  {
    taskQueue: text('task_queue').notNull(),
    namespace: text('namespace').notNull(),
    cpu: doublePrecision('cpu').notNull(),
    memoryBytes: doublePrecision('memory_bytes').notNull(),
    // When the cluster was seen to hold this quota: a refresh whose listing is older leaves the row alone.
    observedAt: timestamp('observed_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ name: 'namespace_quotas_pk', columns: [t.taskQueue, t.namespace] })],
);

// ---- clusters

// The catalogue of clusters instances may be placed in: each row is written by the cluster worker
// that serves it (`shipyard worker --cluster <name>`) when it starts, and its capacity is that
// worker's reports (cluster_capacity under `task_queue`). `drained` is the operators' own: a
// drained cluster takes no new instance.
export const clusters = pgTable('clusters', {
  name: text('name').primaryKey(),
  region: text('region').notNull(),
  labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
  taskQueue: text('task_queue').notNull(),
  /** The name instances' DNS records point at in this cluster (its ingress). */
  ingressTarget: text('ingress_target').notNull(),
  drained: boolean('drained').notNull().default(false),
  registeredAt: timestamp('registered_at', { withTimezone: true }).notNull().defaultNow(),
});

// ---- backups

export const backupKindEnum = pgEnum('backup_kind', backupKinds);
export const backupStatusEnum = pgEnum('backup_status', backupStatuses);

// One row per backup; its objects live under `object_prefix` in SHIPYARD_BACKUP_BUCKET. A row and
// its objects may disagree for a while (a worker killed mid-upload, a bucket emptied by hand): the
// backup sweep repairs either side.
export const backups = pgTable(
  'backups',
  {
    id: text('id').primaryKey(),
    instanceId: text('instance_id')
      .notNull()
      .references(() => instances.id),
    // The operation that took it (a backup, a restore's pre-restore backup, a delete's final one).
    operationId: text('operation_id')
      .notNull()
      .references(() => operations.id),
    kind: backupKindEnum('kind').notNull(),
    status: backupStatusEnum('status').notNull().default('running'),
    bucket: text('bucket').notNull(),
    objectPrefix: text('object_prefix').notNull(),
    parts: jsonb('parts').$type<BackupPart[]>().notNull().default([]),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull().default(0),
    // What the configuration part was sealed with (null: encryption off).
    encryptionKeyId: text('encryption_key_id'),
    postgresVersion: text('postgres_version'),
    // The instance as it was: a clone starts at this version and plan.
    appVersion: text('app_version').notNull(),
    plan: text('plan').notNull(),
    error: text('error'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    expiredAt: timestamp('expired_at', { withTimezone: true }),
  },
  (t) => [
    index('backups_instance_idx').on(t.instanceId, t.id),
    // An operation takes at most one backup of each kind: a retried step finds the one it began.
    uniqueIndex('backups_operation_kind_unique').on(t.operationId, t.kind),
    index('backups_status_idx').on(t.status),
  ],
);
