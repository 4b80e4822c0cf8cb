// What the dashboard reads from the API (/v1), as the OpenAPI document describes it; only the
// fields the pages show.
export type Role = 'viewer' | 'operator' | 'admin';

export interface Me {
  name: string;
  role: Role;
  owner?: string;
}

export interface Step {
  name: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'compensated';
  startedAt?: string;
  endedAt?: string;
  attempt: number;
  error?: string;
  detail?: string;
}

export interface Operation {
  id: string;
  instanceId: string;
  kind: string;
  status: 'running' | 'succeeded' | 'failed' | 'rolled_back' | 'cancelled';
  steps: Step[];
  error?: string;
  actor: string;
  startedAt: string;
  endedAt?: string;
  /** The run in the Temporal UI, where the deployment knows that UI's address. */
  temporalUiUrl?: string;
}

export interface Instance {
  id: string;
  slug: string;
  name: string;
  plan: string;
  version: string;
  status: string;
  hostname: string;
  namespace: string;
  ownerEmail: string;
  createdAt: string;
  updatedAt: string;
  health: 'healthy' | 'degraded' | 'unhealthy' | 'unknown';
  healthCheckedAt?: string;
  purgeAt?: string;
  currentOperation: Operation | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface HealthReport {
  health: string;
  checkedAt: string | null;
  checks: { name: string; status: 'pass' | 'fail' | 'healed'; detail?: string; critical?: boolean }[];
}

export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  outcome: string;
  operationId?: string;
  message?: string;
}

export interface Usage {
  from: string;
  to: string;
  currency: string;
  lines: { meter: string; plan: string; quantity: number; unit: string; amountCents: number }[];
  totalCents: number;
}

export interface Plan {
  name: string;
  cpu: string;
  memory: string;
}

export interface Backup {
  id: string;
  kind: string;
  status: string;
  sizeBytes: number;
  appVersion: string;
  startedAt: string;
}

export interface Counts {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  rolledBack: number;
  failed: number;
  skipped: number;
}

export interface Rollout {
  id: string;
  version: string;
  status: 'running' | 'paused' | 'halted' | 'succeeded' | 'aborted' | 'failed';
  counts: Counts;
  waves: { index: number; size: number; status: 'pending' | 'running' | 'done'; counts: Counts }[];
  failures: { slug: string; operationId?: string; error: string }[];
  startedAt: string;
  endedAt?: string;
  error?: string;
}

export interface RolloutListed {
  id: string;
  version: string;
  status: Rollout['status'];
  startedAt: string;
  endedAt?: string;
}

export interface FleetSummary {
  instances: Record<'byStatus' | 'byHealth' | 'byPlan' | 'byVersion', { key: string; count: number }[]> & { total: number };
  operations: { since: string; hours: { hour: string; succeeded: number; rolledBack: number; failed: number }[] };
  failures: { operationId: string; slug: string; kind: string; status: 'failed' | 'rolled_back'; error?: string; endedAt: string }[];
}

export interface InvoiceSummary {
  id: string;
  number: string;
  ownerEmail: string;
  period: string;
  status: string;
  currency: string;
  subtotalCents: number;
  issuedAt?: string;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  description?: string;
  createdAt: string;
}

export interface Delivery {
  id: string;
  eventId: string;
  type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
  createdAt: string;
  deliveredAt?: string;
}
