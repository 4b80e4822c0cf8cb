import { describe, expect, it } from 'vitest';
import { amountCents, hourOf, timeUsage, type StatusChange } from '../../domain/metering';

const at = (hhmmss: string) => new Date(`2026-03-01T${hhmmss}Z`);
const hour = (h: number) => [new Date(Date.UTC(2026, 2, 1, h)), new Date(Date.UTC(2026, 2, 1, h + 1))] as const;

// Provisioned at 09:50 (not billed), ready 09:55 for 40 min, suspended 10:35 for 30 min, resumed
// 11:05 (ready 11:06), plan change 11:30 (changing_plan is billed as running, on the old plan)
// to 11:31 on pro, teardown 12:10 (deleting is not billed), deleted 12:12.
const history: StatusChange[] = [
  { status: 'provisioning', plan: 'starter', at: at('09:50:00') },
  { status: 'ready', plan: 'starter', at: at('09:55:00') },
  { status: 'suspending', plan: 'starter', at: at('10:35:00') },
  { status: 'suspended', plan: 'starter', at: at('10:35:20') },
  { status: 'resuming', plan: 'starter', at: at('11:05:20') },
  { status: 'ready', plan: 'starter', at: at('11:06:00') },
  { status: 'changing_plan', plan: 'starter', at: at('11:30:00') },
  { status: 'ready', plan: 'pro', at: at('11:31:15') },
  { status: 'deleting', plan: 'pro', at: at('12:10:00') },
  { status: 'deleted', plan: 'pro', at: at('12:12:00') },
];

describe('time usage from a status history', () => {
  it('bills ready and suspended time to the second, hour by hour, split by plan', () => {
    expect(timeUsage(history, ...hour(9))).toEqual([{ meter: 'running_seconds', plan: 'starter', seconds: 5 * 60 }]);
    expect(timeUsage(history, ...hour(10))).toEqual([
      // ready 10:00–10:35 and suspending 10:35:00–10:35:20
      { meter: 'running_seconds', plan: 'starter', seconds: 35 * 60 + 20 },
      { meter: 'suspended_seconds', plan: 'starter', seconds: 24 * 60 + 40 },
    ]);
    expect(timeUsage(history, ...hour(11))).toEqual([
      { meter: 'running_seconds', plan: 'pro', seconds: 28 * 60 + 45 },
      // resuming 11:05:20, ready 11:06 until the change ends at 11:31:15
      { meter: 'running_seconds', plan: 'starter', seconds: 25 * 60 + 55 },
      { meter: 'suspended_seconds', plan: 'starter', seconds: 5 * 60 + 20 },
    ]);
    expect(timeUsage(history, ...hour(12))).toEqual([{ meter: 'running_seconds', plan: 'pro', seconds: 10 * 60 }]);
    expect(timeUsage(history, ...hour(13))).toEqual([]);
  });

  it('gives the same totals over the whole period as the sum of its hours (suspended 30 min, ready 40 min first)', () => {
    const whole = timeUsage(history, at('00:00:00'), at('23:00:00'));
    expect(whole).toEqual([
      { meter: 'running_seconds', plan: 'pro', seconds: (28 * 60 + 45) + 10 * 60 },
      // 40 min ready + 20 s suspending, then 40 s resuming + 24 min ready + 75 s changing plan
      { meter: 'running_seconds', plan: 'starter', seconds: 40 * 60 + 20 + 40 + 24 * 60 + 75 },
      { meter: 'suspended_seconds', plan: 'starter', seconds: 30 * 60 },
    ]);
  });

  it('keeps billing an instance still ready until the end of the window, and nothing before its history starts', () => {
    const live: StatusChange[] = [{ status: 'ready', plan: 'starter', at: at('10:15:00') }];
    expect(timeUsage(live, at('10:00:00'), at('10:20:30'))).toEqual([{ meter: 'running_seconds', plan: 'starter', seconds: 5 * 60 + 30 }]);
  });

  it('prices running and suspended seconds per plan, rounding to the cent', () => {
    const plan = { pricePerHourCents: 100, suspendedPricePerHourCents: 10 };
    expect(amountCents('running_seconds', 3600, plan)).toBe(100);
    expect(amountCents('running_seconds', 1800 + 18, plan)).toBe(51); // 50.5 → 51
    expect(amountCents('suspended_seconds', 1800, plan)).toBe(5);
    expect(amountCents('db_storage_bytes', 1e9, plan)).toBe(0);
    expect(hourOf(at('10:59:59'))).toEqual(at('10:00:00'));
  });
});
