// The API's resources as TypeBox schemas: they validate requests, serialize responses and
// become the OpenAPI document. Rules come from domain/ so the API and workflows agree.
import { Type, type Static } from '@fastify/type-provider-typebox';
import { apiRoles } from '../domain/api-keys';
import { checkStatuses, healths, sweepStatuses } from '../domain/health';
import { backupKinds, backupStatuses } from '../domain/backups';
import { instanceStatuses, operationStatuses, stepStatuses } from '../domain/instance';
import { operationKinds } from '../domain/operation-kinds';
import { invoiceStatuses } from '../domain/invoices';
import { SLUG_MAX, SLUG_MIN, slugPattern, textPattern, versionPattern } from '../domain/validation';
import { deliveryStatuses, webhookEventTypes } from '../domain/webhooks';
import { meters } from '../domain/metering';
import { Problem } from './problems';



export const Slug = Type.String({
  minLength: SLUG_MIN,
  maxLength: SLUG_MAX,
  pattern: slugPattern,
  description: 'lowercase letters, digits and hyphens; starts with a letter; not reserved',
});
export const Version = Type.String({ minLength: 1, maxLength: 128, pattern: versionPattern });
export const InstanceStatus = Type.Enum(instanceStatuses);
export const Role = Type.Enum(apiRoles, { description: 'admin > operator > viewer' });

export const Plan = Type.Object(
  {
    name: Type.String(),
    cpu: Type.String({ description: 'Kubernetes CPU quantity for the namespace quota' }),
    memory: Type.String({ description: 'Kubernetes memory quantity for the namespace quota' }),
    pods: Type.Integer(),
    replicas: Type.Integer(),
    pricePerHourCents: Type.Integer({ description: 'price of an hour running' }),
    suspendedPricePerHourCents: Type.Integer({ description: 'price of an hour suspended' }),
    backupEveryHours: Type.Union([Type.Number(), Type.Null()], { description: 'hours between scheduled backups; null = none' }),
    backupKeepCount: Type.Integer({ description: 'scheduled backups kept whatever their age' }),
    backupKeepDays: Type.Integer({ description: 'days any backup is kept whatever the count' }),
    backupPricePerGbMonthCents: Type.Integer({ description: 'price of a GB of backups kept a month (730 h), billed per hour' }),
  },
  { $id: 'Plan' },
);

export const Step = Type.Object({
  name: Type.String(),
  status: Type.Enum(stepStatuses),
  startedAt: Type.Optional(Type.String()),
  endedAt: Type.Optional(Type.String()),
  attempt: Type.Integer(),
  error: Type.Optional(Type.String()),
  detail: Type.Optional(Type.String({ description: 'while the step runs: what it waits for and what is in the way' })),
});

export const Operation = Type.Object(
  {
    id: Type.String(),
    instanceId: Type.String(),
    kind: Type.Enum(operationKinds),
    status: Type.Enum(operationStatuses),
    steps: Type.Array(Step, { description: 'live from the workflow while running' }),
    error: Type.Optional(Type.String()),
    actor: Type.String({ description: 'name of the API key that asked' }),
    startedAt: Type.String({ format: 'date-time' }),
    endedAt: Type.Optional(Type.String({ format: 'date-time' })),
    workflowId: Type.Optional(Type.String({ description: 'the Temporal workflow id of its run (`instance:<slug>`)' })),
    runId: Type.Optional(Type.String({ description: 'the Temporal run id, once the run has started' })),
    temporalUiUrl: Type.Optional(Type.String({ description: 'the run in the Temporal UI; present when SHIPYARD_TEMPORAL_UI_URL is set' })),
  },
  { $id: 'Operation' },
);
export type OperationView = Static<typeof Operation>;

export const Instance = Type.Object(
  {
    id: Type.String(),
    slug: Type.String(),
    name: Type.String(),
    plan: Type.String(),
    version: Type.String(),
    status: InstanceStatus,
    hostname: Type.String(),
    namespace: Type.String(),
    ownerEmail: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    health: Type.Enum(healths, { description: "the last health check's verdict; apart from status (GET …/health has the checks)" }),
    healthCheckedAt: Type.Optional(Type.String({ format: 'date-time' })),
    purgeAt: Type.Optional(Type.String({ format: 'date-time', description: 'while deleting: when the instance is purged unless undeleted' })),
    cluster: Type.Optional(Type.String({ description: 'multi-cluster installs: the cluster the instance is placed in (GET /v1/clusters)' })),
    currentOperation: Type.Union([Type.Ref('Operation'), Type.Null()]),
  },
  { $id: 'Instance' },
);
export type InstanceView = Omit<Static<typeof Instance>, 'currentOperation'> & { currentOperation: OperationView | null };

export const Backup = Type.Object(
  {
    id: Type.String(),
    instanceId: Type.String(),
    operationId: Type.String({ description: 'the operation that took it' }),
    kind: Type.Enum(backupKinds),
    status: Type.Enum(backupStatuses),
    sizeBytes: Type.Integer(),
    parts: Type.Array(
      Type.Object({ name: Type.String(), sizeBytes: Type.Integer(), sha256: Type.String() }),
      { description: 'the objects, as checked before any restore: the database dump and the sealed configuration' },
    ),
    appVersion: Type.String({ description: 'the version the instance ran; a clone starts at it' }),
    plan: Type.String(),
    postgresVersion: Type.Optional(Type.String()),
    encryptionKeyId: Type.Optional(Type.String({ description: 'the keyring key that sealed the configuration part' })),
    error: Type.Optional(Type.String()),
    startedAt: Type.String({ format: 'date-time' }),
    completedAt: Type.Optional(Type.String({ format: 'date-time' })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'a purged instance\'s final backup: when it is let go' })),
    expiredAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { $id: 'Backup' },
);

export const Event = Type.Object(
  {
    id: Type.Integer(),
    at: Type.String({ format: 'date-time' }),
    actor: Type.String(),
    action: Type.String(),
    outcome: Type.String({ description: 'requested, refused, succeeded, failed, …' }),
    operationId: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
  },
  { $id: 'Event' },
);

export const ApiKey = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Role,
    prefix: Type.String({ description: 'the first characters of the key, to recognise it' }),
    owner: Type.Optional(Type.String({ description: "the ownerEmail the key is bound to: it sees and acts on that owner's instances only" })),
    createdAt: Type.String({ format: 'date-time' }),
    revokedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { $id: 'ApiKey' },
);

export const Webhook = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String(), { description: 'event types, or `*` for all' }),
    description: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Webhook' },
);
export const WebhookEventType = Type.Enum([...webhookEventTypes, '*']);

export const Delivery = Type.Object(
  {
    id: Type.String(),
    eventId: Type.String({ description: 'the Shipyard-Delivery header: the same across every attempt' }),
    type: Type.Enum(webhookEventTypes),
    status: Type.Enum(deliveryStatuses),
    attempts: Type.Integer(),
    lastStatusCode: Type.Optional(Type.Integer()),
    lastError: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    deliveredAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { $id: 'Delivery' },
);

export const Health = Type.Enum(healths);

export const HealthReport = Type.Object(
  {
    cluster: Type.Optional(Type.String({ description: 'the cluster the instance is placed in; absent in a single-cluster install' })),
    health: Health,
    checkedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'null until the first check' }),
    checks: Type.Array(
      Type.Object({
        name: Type.String(),
        status: Type.Enum(checkStatuses),
        detail: Type.Optional(Type.String()),
        critical: Type.Optional(Type.Boolean({ description: 'a failure that leaves the instance unhealthy rather than degraded' })),
      }),
    ),
  },
  { $id: 'HealthReport' },
);

export const Sweep = Type.Object(
  {
    id: Type.String(),
    status: Type.Enum(sweepStatuses),
    startedAt: Type.String({ format: 'date-time' }),
    endedAt: Type.Optional(Type.String({ format: 'date-time' })),
    checked: Type.Integer(),
    healthy: Type.Integer(),
    degraded: Type.Integer(),
    unhealthy: Type.Integer(),
    healed: Type.Integer(),
    errors: Type.Integer({ description: 'instances whose check could not finish' }),
    offlineClusters: Type.Array(
      Type.Object({
        name: Type.String(),
        region: Type.String(),
        reportedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'its last capacity report; null if it never reported' }),
        instanceCount: Type.Integer({ description: 'instances placed in it' }),
      }),
      {
        description:
          'clusters with no capacity report for three periods as the sweep last looked: their instances were not checked (health `unknown`, check `cluster` says why) rather than counted unhealthy. Empty in a single-cluster install',
      },
    ),
  },
  { $id: 'Sweep' },
);

export const Orphan = Type.Object(
  {
    kind: Type.Enum(['namespace', 'dns-record', 'database']),
    name: Type.String({ description: 'the namespace, the DNS name, or the database (and role) name' }),
    slug: Type.String({ description: 'the instance its ownership mark names' }),
    cluster: Type.Optional(Type.String({ description: 'the cluster that instance was last placed in, when the catalogue knows one' })),
    removed: Type.Boolean({ description: 'removed by that sweep (SHIPYARD_ORPHAN_CLEANUP=true)' }),
  },
  { $id: 'Orphan' },
);

// ---- responses: each has a name in the OpenAPI document; routes refer to them with a description.

const nextCursor = Type.Union([Type.String(), Type.Null()], { description: 'pass back as `cursor` for the next page; null on the last page' });
const Page = (item: string, id: string) => Type.Object({ items: Type.Array(Type.Ref(item)), nextCursor }, { $id: id });
const List = (item: string, id: string) => Type.Object({ items: Type.Array(Type.Ref(item)) }, { $id: id });

const Base64 = Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$' });
/**
 * The Temporal codec protocol's body, in and out (api/routes/codec.ts): Payloads in proto3 JSON,
 * bytes as base64. Only `metadata` and `data` are answered: Shipyard uses no other Payload field.
 */
export const CodecPayloads = (options: object = {}) =>
  Type.Object(
    { payloads: Type.Array(Type.Object({ metadata: Type.Optional(Type.Record(Type.String(), Base64)), data: Type.Optional(Base64) })) },
    { additionalProperties: false, ...options },
  );
export const UsageLine = Type.Object(
  {
    meter: Type.Enum(meters),
    plan: Type.String(),
    quantity: Type.Integer({
      description: 'seconds for time meters; the largest size sampled, in bytes, for db_storage_bytes; bytes × hours kept for backup_storage_bytes',
    }),
    unit: Type.Enum(['seconds', 'bytes', 'byte-hours']),
    pricePerHourCents: Type.Integer(),
    pricePerGbMonthCents: Type.Optional(Type.Integer({ description: 'backup_storage_bytes: the price of a GB kept a month (730 hours)' })),
    amountCents: Type.Integer({ description: 'quantity × price, rounded half up to the cent' }),
  },
  { $id: 'UsageLine' },
);

export const Usage = Type.Object(
  {
    instanceId: Type.String(),
    from: Type.String({ format: 'date-time', description: 'the start of the hour holding the requested `from`' }),
    to: Type.String({ format: 'date-time' }),
    meteredUntil: Type.String({ format: 'date-time', description: 'hours before this come from the ledger, later ones are computed live' }),
    currency: Type.String(),
    lines: Type.Array(Type.Ref('UsageLine')),
    totalCents: Type.Integer(),
  },
  { $id: 'Usage' },
);

const InvoiceFields = {
  id: Type.String(),
  number: Type.String({ description: 'INV-YYYYMM-NNNN' }),
  ownerEmail: Type.String({ description: 'the billing account' }),
  period: Type.String({ description: 'YYYY-MM' }),
  status: Type.Enum(invoiceStatuses),
  currency: Type.String(),
  subtotalCents: Type.Integer({ description: 'the sum of the lines' }),
  createdAt: Type.String({ format: 'date-time' }),
  issuedAt: Type.Optional(Type.String({ format: 'date-time' })),
};
export const InvoiceSummary = Type.Object(InvoiceFields, { $id: 'InvoiceSummary' });
export const InvoiceLine = Type.Object(
  {
    position: Type.Integer(),
    kind: Type.Enum(['usage', 'adjustment'], { description: 'adjustment: a difference found by a rerun after the period was issued' }),
    instanceId: Type.String(),
    slug: Type.String(),
    plan: Type.String(),
    meter: Type.Enum(['running_seconds', 'suspended_seconds', 'backup_storage_bytes']),
    seconds: Type.Integer({ description: 'seconds; for backup_storage_bytes, bytes × hours kept' }),
    hours: Type.String({ description: 'seconds / 3600 with 4 decimals; for backup_storage_bytes, GB-months (byte-hours / 1e9 / 730)' }),
    unitPriceCents: Type.Integer({ description: 'per hour; for backup_storage_bytes, per GB-month' }),
    amountCents: Type.Integer({ description: 'seconds × unit price / 3600, rounded half up to the cent (adjustments: the difference of such amounts)' }),
  },
  { $id: 'InvoiceLine' },
);
export const Invoice = Type.Object({ ...InvoiceFields, lines: Type.Array(Type.Ref('InvoiceLine')) }, { $id: 'Invoice' });

export const sharedSchemas = [
  Plan,
  InvoiceSummary,
  InvoiceLine,
  Invoice,
  Page('InvoiceSummary', 'InvoicePage'),
  Type.Object({ period: Type.String(), workflowId: Type.String() }, { $id: 'InvoiceRunAccepted' }),
  UsageLine,
  Usage,
  Operation,
  Instance,
  Event,
  ApiKey,
  Page('Instance', 'InstancePage'),
  Page('Operation', 'OperationPage'),
  Page('Event', 'EventPage'),
  Backup,
  Page('Backup', 'BackupPage'),
  List('Plan', 'PlanList'),
  List('ApiKey', 'ApiKeyList'),
  Webhook,
  Delivery,
  HealthReport,
  Sweep,
  Orphan,
  Type.Object(
    {
      items: Type.Array(Type.Ref('Orphan')),
      sweepId: Type.Union([Type.String(), Type.Null()], { description: 'the sweep that found them; null before any sweep looked' }),
      checkedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    },
    { $id: 'OrphanList' },
  ),
  Page('Sweep', 'SweepPage'),
  Type.Object({ sweep: Type.Ref('Sweep') }, { $id: 'SweepAccepted' }),
  List('Webhook', 'WebhookList'),
  Page('Delivery', 'DeliveryPage'),
  Type.Object({ webhook: Type.Ref('Webhook'), secret: Type.String({ description: 'signs every delivery; shown this once' }) }, { $id: 'WebhookCreated' }),
  Type.Object({ webhook: Type.Ref('Webhook') }, { $id: 'WebhookDeleted' }),
  Type.Object({ instance: Type.Ref('Instance'), operation: Type.Ref('Operation') }, { $id: 'ProvisionAccepted' }),
  Type.Object({ operation: Type.Ref('Operation') }, { $id: 'OperationAccepted' }),
  Type.Object({ apiKey: Type.Ref('ApiKey'), key: Type.String({ description: 'the secret; store it now' }) }, { $id: 'ApiKeyCreated' }),
  Type.Object({ apiKey: Type.Ref('ApiKey') }, { $id: 'ApiKeyRevoked' }),
  Type.Object({ status: Type.Enum(['ok']) }, { $id: 'Health' }),
  Type.Object({ status: Type.Enum(['ready']) }, { $id: 'Readiness' }),
  CodecPayloads({ $id: 'CodecPayloads' }),
];

// ---- request parts

/** Ids and slugs are made of these; anything else names nothing, and is refused before a lookup. */
const idPattern = '^[A-Za-z0-9_-]+$';
export const IdOrSlugParams = Type.Object({
  idOrSlug: Type.String({ minLength: 1, maxLength: 64, pattern: idPattern, description: 'instance id (ins_…) or slug' }),
});
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: idPattern }) });

export const DEFAULT_PAGE_SIZE = 20;
export const pageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' })),
};
export const PageQuery = Type.Object(pageQuery, { additionalProperties: false });

// A cursor is the last id of the page before, opaque to clients; anything else is a 400 naming it.
export const encodeCursor = (id: string | number) => Buffer.from(String(id)).toString('base64url');
export function decodeCursor(cursor: string, idPattern: RegExp): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!idPattern.test(id)) {
    throw new Problem(400, 'the cursor is not one this API returned', { errors: [{ field: 'cursor', message: 'is invalid' }] });
  }
  return id;
}
