// What an instance used, computed from its status history to the second. Pure (no I/O): the
// metering workflow's activity, the usage endpoint and the unit tests all call the same code.
import type { InstanceStatus, Plan } from './instance';
import { billedRunningStatuses } from './operation-kinds';

export const meters = ['running_seconds', 'suspended_seconds', 'db_storage_bytes', 'backup_storage_bytes'] as const;
export type Meter = (typeof meters)[number];
export type TimeMeter = Exclude<Meter, 'db_storage_bytes' | 'backup_storage_bytes'>;

/**
 * Statuses billed as running: the instance serves, or is being changed by an operation whose kind
 * is billed while it runs (domain/operation-kinds.ts) because it keeps its resources. Provisioning,
 * failed, deleting and deleted are not billed: a customer never pays for a provision that did not
 * finish, and a teardown stops billing the moment it starts.
 */
export const runningStatuses: readonly InstanceStatus[] = ['ready', ...billedRunningStatuses];
export const suspendedStatuses: readonly InstanceStatus[] = ['suspended'];

export function meterFor(status: InstanceStatus): TimeMeter | undefined {
  if (runningStatuses.includes(status)) return 'running_seconds';
  if (suspendedStatuses.includes(status)) return 'suspended_seconds';
  return undefined;
}

/** One row of an instance's status history: from `at` on, it had `status` on `plan`. */
export interface StatusChange {
  status: InstanceStatus;
  plan: string;
  at: Date;
}

export interface TimeUsage {
  meter: TimeMeter;
  plan: string;
  seconds: number;
}

/**
 * Seconds per billed meter and plan spent in [from, to). `history` is one instance's status
 * changes in time order; the last change before `from` gives the state at `from`, and the last
 * change overall lasts until `to`. Each (meter, plan) total is rounded to the nearest second once,
 * so splitting a period into hours never loses or adds more than half a second per row.
 */
export function timeUsage(history: readonly StatusChange[], from: Date, to: Date): TimeUsage[] {
  const ms = new Map<string, { meter: TimeMeter; plan: string; ms: number }>();
  history.forEach((change, i) => {
    const start = Math.max(change.at.getTime(), from.getTime());
    const end = Math.min(history[i + 1]?.at.getTime() ?? Number.POSITIVE_INFINITY, to.getTime());
    const meter = meterFor(change.status);
    if (!meter || end <= start) return;
    const key = `${meter}\u0000${change.plan}`;
    const entry = ms.get(key) ?? { meter, plan: change.plan, ms: 0 };
    entry.ms += end - start;
    ms.set(key, entry);
  });
  return [...ms.values()]
    .map(({ meter, plan, ms }) => ({ meter, plan, seconds: Math.round(ms / 1000) }))
    .filter((u) => u.seconds > 0)
    .sort((a, b) => (a.meter === b.meter ? a.plan.localeCompare(b.plan) : a.meter.localeCompare(b.meter)));
}

export const HOUR_MS = 3_600_000;

/** The start of the UTC hour holding `at`. */
export function hourOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
}

/**
 * The price of `quantity` of a time meter on `plan`, in cents, rounded half up to a whole cent
 * (per line: a line is one meter and plan over a period).
 */
export function amountCents(meter: Meter, quantity: number, plan: Pick<Plan, 'pricePerHourCents' | 'suspendedPricePerHourCents'>): number {
  if (meter === 'db_storage_bytes') return 0;
  const perHour = meter === 'running_seconds' ? plan.pricePerHourCents : plan.suspendedPricePerHourCents;
  return Math.round((quantity * perHour) / 3600);
}
