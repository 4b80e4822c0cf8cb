// The vocabulary of an instance, shared by the API, the workflows and the catalogue.
// Pure: no I/O, safe to import from workflow code.

export const instanceStatuses = [
  'provisioning',
  'ready',
  'upgrading',
  'suspending',
  'suspended',
  'resuming',
  'changing_plan',
  'restoring',
  'deleting',
  'deleted',
  'failed',
] as const;
export type InstanceStatus = (typeof instanceStatuses)[number];

export const operationStatuses = ['running', 'succeeded', 'failed', 'rolled_back', 'cancelled'] as const;
export type OperationStatus = (typeof operationStatuses)[number];

export const stepStatuses = ['pending', 'running', 'done', 'failed', 'compensated'] as const;
export type StepStatus = (typeof stepStatuses)[number];

/** One step of an operation as users see it, live (workflow query) and afterwards (catalogue). */
export interface Step {
  name: string;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  attempt: number;
  error?: string;
  /** While the step runs: what it is waiting for and what is in the way (from its activity's heartbeat). */
  detail?: string;
}

/**
 * What every activity that waits heartbeats (it may carry more, e.g. a deadline). The API shows
 * the running step's last `detail`, so it is written for a person: what is awaited, what blocks it.
 */
export interface WaitHeartbeat {
  detail: string;
}

/** What a plan grants an instance; plans are rows in the catalogue, seeded by a migration. */
export interface Plan {
  name: string;
  cpu: string; // Kubernetes quantity for the namespace quota, e.g. "2"
  memory: string; // e.g. "4Gi"
  pods: number;
  replicas: number;
  pricePerHourCents: number;
  /** What an hour of a suspended instance costs (its database and name stay reserved). */
  suspendedPricePerHourCents: number;
  /** The tenant database role's connection limit. */
  dbConnections: number;
  /** Hours between scheduled backups (fractions allowed); null = none scheduled. */
  backupEveryHours: number | null;
  /** Scheduled backups kept whatever their age (the newest ones). */
  backupKeepCount: number;
  /** Days any backup is kept whatever the count. */
  backupKeepDays: number;
  /** Price of a GB of backups kept for a month (730 hours), billed per hour. */
  backupPricePerGbMonthCents: number;
}


// Names of everything Shipyard creates outside are derived from the slug, never random,
// so a retried step finds what the first try made.
export const namespaceFor = (slug: string): string => `tenant-${slug}`;
export const databaseNameFor = (slug: string): string => `tenant_${slug.replaceAll('-', '_')}`;
export const databaseRoleFor = databaseNameFor;
export const hostnameFor = (slug: string, baseDomain: string): string => `${slug}.${baseDomain}`;

export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'shipyard';
export const instanceLabel = 'shipyard.dev/instance';
export const ownerLabels = (slug: string): Record<string, string> => ({
  [managedByLabel]: managedByValue,
  [instanceLabel]: slug,
});
