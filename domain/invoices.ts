// An invoice is a draft until it is issued; an issued invoice is never changed again. What a line
// costs: time meters by the hour, backup storage by the GB-month, pro rata per hour.
import type { Plan } from './instance';
import { amountCents, type Meter } from './metering';

export const invoiceStatuses = ['draft', 'issued'] as const;

/** Backup storage is priced per GB (10⁹ bytes) … */
export const BYTES_PER_GB = 1_000_000_000;
/** … kept for a month of 730 hours (365 × 24 / 12), and billed for each hour it is kept. */
export const HOURS_PER_MONTH = 730;

/**
 * The price of backup storage: `byteHours` is the sum over the hours of the bytes kept during
 * each (the backup_storage_bytes ledger rows), so the amount is byteHours × price / 10⁹ / 730,
 * rounded half up to the cent once (per line). Exact in integers: byte-hours of a large fleet times
 * a price would lose cents in floating point.
 */
export function backupStorageAmountCents(byteHours: number, pricePerGbMonthCents: number): number {
  const numerator = BigInt(Math.round(byteHours)) * BigInt(pricePerGbMonthCents);
  const denominator = BigInt(BYTES_PER_GB) * BigInt(HOURS_PER_MONTH);
  const sign = numerator < 0n ? -1n : 1n;
  const magnitude = numerator < 0n ? -numerator : numerator;
  return Number(sign * ((2n * magnitude + denominator) / (2n * denominator)));
}

export type PricedPlan = Pick<Plan, 'pricePerHourCents' | 'suspendedPricePerHourCents' | 'backupPricePerGbMonthCents'>;

/** What a plan charges for one unit of a meter: cents per hour (time meters), per GB-month (backup storage); 0 for what is not priced. */
export function unitPriceCents(meter: Meter, plan: PricedPlan | undefined): number {
  if (!plan) return 0;
  if (meter === 'running_seconds') return plan.pricePerHourCents;
  if (meter === 'suspended_seconds') return plan.suspendedPricePerHourCents;
  if (meter === 'backup_storage_bytes') return plan.backupPricePerGbMonthCents;
  return 0;
}

/** The amount of one line (one meter and plan over a period), rounded half up to the cent once. */
export function lineAmountCents(meter: Meter, quantity: number, plan: PricedPlan | undefined): number {
  if (!plan) return 0;
  if (meter === 'backup_storage_bytes') return backupStorageAmountCents(quantity, plan.backupPricePerGbMonthCents);
  return amountCents(meter, quantity, plan);
}
