import { describe, expect, it } from 'vitest';
import { backupDue, expiredByRetention, type BackupPolicy, type RetainedBackup } from '../../domain/backups';
import { backupStorageAmountCents, lineAmountCents, unitPriceCents } from '../../domain/invoices';

const now = new Date('2026-03-31T12:00:00Z');
const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000);
const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3_600_000);
const backup = (id: string, kind: RetainedBackup['kind'], completedAt: Date, expiresAt: Date | null = null): RetainedBackup => ({
  id,
  kind,
  completedAt,
  expiresAt,
});
const policy = (p: Partial<BackupPolicy> = {}): BackupPolicy => ({ everyHours: 24, keepCount: 2, keepDays: 7, ...p });
const sorted = (ids: string[]) => [...ids].sort();

describe('retention', () => {
  it('keeps the newest keepCount scheduled backups whatever their age, and younger ones whatever the count', () => {
    const backups = [
      backup('s1', 'scheduled', daysAgo(40)),
      backup('s2', 'scheduled', daysAgo(30)),
      backup('s3', 'scheduled', daysAgo(20)),
      backup('s4', 'scheduled', daysAgo(10)),
    ];
    // keepDays 7: none is young; the newest two (s3, s4) are kept by the count.
    expect(sorted(expiredByRetention(backups, policy(), now))).toEqual(['s1', 's2']);
    // keepDays 35: s2, s3, s4 are young; s1 is old and not among the newest two.
    expect(sorted(expiredByRetention(backups, policy({ keepDays: 35 }), now))).toEqual(['s1']);
    // keepDays 45: everything is young.
    expect(expiredByRetention(backups, policy({ keepDays: 45 }), now)).toEqual([]);
  });

  it('with keepDays 0 only the count keeps scheduled backups', () => {
    const backups = [backup('a', 'scheduled', hoursAgo(3)), backup('b', 'scheduled', hoursAgo(2)), backup('c', 'scheduled', hoursAgo(1))];
    expect(expiredByRetention(backups, policy({ keepDays: 0 }), now)).toEqual(['a']);
    expect(expiredByRetention(backups, policy({ keepDays: 0, keepCount: 1 }), now)).toEqual(['b', 'a']);
    expect(expiredByRetention(backups, policy({ keepDays: 0, keepCount: 3 }), now)).toEqual([]);
  });

  it('counts only scheduled backups against keepCount; manual and pre-restore ones follow the age rule alone', () => {
    const backups = [
      backup('m-old', 'manual', daysAgo(30)),
      backup('p-old', 'pre-restore', daysAgo(20)),
      backup('s-old', 'scheduled', daysAgo(15)),
      backup('m-young', 'manual', daysAgo(3)),
      backup('s-young', 'scheduled', daysAgo(1)),
    ];
    // keepCount 2 keeps both scheduled ones; the old manual and pre-restore ones go.
    expect(sorted(expiredByRetention(backups, policy(), now))).toEqual(['m-old', 'p-old']);
    // Newer manual backups do not push scheduled ones out of the count.
    const manyManual = [...backups, backup('m1', 'manual', hoursAgo(5)), backup('m2', 'manual', hoursAgo(4))];
    expect(sorted(expiredByRetention(manyManual, policy(), now))).toEqual(['m-old', 'p-old']);
  });

  it('never lets go of the newest completed backup, whatever its kind and age', () => {
    expect(expiredByRetention([backup('only', 'manual', daysAgo(400))], policy(), now)).toEqual([]);
    const manualNewest = [backup('s1', 'scheduled', daysAgo(50)), backup('s2', 'scheduled', daysAgo(40)), backup('s3', 'scheduled', daysAgo(30)), backup('m', 'manual', daysAgo(20))];
    expect(expiredByRetention(manualNewest, policy({ keepCount: 1 }), now)).toEqual(['s2', 's1']);
  });

  it('keeps a final backup until its expiresAt (set at the purge), then lets it go even if it is the newest', () => {
    const purged = [backup('s', 'scheduled', daysAgo(40)), backup('f', 'final', daysAgo(35), daysAgo(5))];
    expect(sorted(expiredByRetention(purged, policy({ keepCount: 1 }), now))).toEqual(['f']);
    const notYet = [backup('f', 'final', daysAgo(35), new Date(now.getTime() + 1000))];
    expect(expiredByRetention(notYet, policy(), now)).toEqual([]);
    // Exactly at its time it goes.
    expect(expiredByRetention([backup('f', 'final', daysAgo(35), now)], policy(), now)).toEqual(['f']);
    // Without an expiresAt (its delete was taken back) a final backup ages like a manual one.
    const undeleted = [backup('f', 'final', daysAgo(100)), backup('m', 'manual', daysAgo(1))];
    expect(expiredByRetention(undeleted, policy(), now)).toEqual(['f']);
  });

  it('lets nothing go from no backups, and does not depend on the order it is given', () => {
    expect(expiredByRetention([], policy(), now)).toEqual([]);
    const backups = [backup('c', 'scheduled', hoursAgo(1)), backup('a', 'scheduled', hoursAgo(3)), backup('b', 'scheduled', hoursAgo(2))];
    expect(expiredByRetention(backups, policy({ keepDays: 0 }), now)).toEqual(['a']);
    expect(expiredByRetention([...backups].reverse(), policy({ keepDays: 0 }), now)).toEqual(['a']);
  });

  it('keeps a backup younger than keepDays, even by a millisecond, and lets go of one exactly keepDays old', () => {
    const edge = [backup('younger', 'manual', new Date(daysAgo(7).getTime() + 1)), backup('edge', 'manual', daysAgo(7)), backup('new', 'manual', hoursAgo(1))];
    expect(expiredByRetention(edge, policy(), now)).toEqual(['edge']);
  });
});

describe('backup due', () => {
  const since = hoursAgo(100);

  it('is never due without a schedule', () => {
    expect(backupDue(policy({ everyHours: null }), null, since, now)).toBe(false);
    expect(backupDue(policy({ everyHours: null }), daysAgo(365), since, now)).toBe(false);
  });

  it('is due once the interval has passed since the last scheduled backup', () => {
    expect(backupDue(policy({ everyHours: 24 }), hoursAgo(23.9), since, now)).toBe(false);
    expect(backupDue(policy({ everyHours: 24 }), hoursAgo(24), since, now)).toBe(true);
    expect(backupDue(policy({ everyHours: 24 }), hoursAgo(48), since, now)).toBe(true);
  });

  it('counts from `since` (the instance’s creation) before the first scheduled backup', () => {
    expect(backupDue(policy({ everyHours: 6 }), null, hoursAgo(5), now)).toBe(false);
    expect(backupDue(policy({ everyHours: 6 }), null, hoursAgo(6), now)).toBe(true);
    // A last backup, however recent its creation, wins over `since`.
    expect(backupDue(policy({ everyHours: 6 }), hoursAgo(1), hoursAgo(1000), now)).toBe(false);
  });

  it('takes fractions of an hour (a test plan backs up every few seconds)', () => {
    const every = policy({ everyHours: 0.002 }); // 7.2 s
    expect(backupDue(every, new Date(now.getTime() - 7_199), since, now)).toBe(false);
    expect(backupDue(every, new Date(now.getTime() - 7_200), since, now)).toBe(true);
  });
});

describe('backup storage price', () => {
  const plan = { pricePerHourCents: 5, suspendedPricePerHourCents: 1, backupPricePerGbMonthCents: 10 };

  it('is bytes × hours × the price per GB-month / 10⁹ / 730, rounded half up once', () => {
    // 1 GB for a 730-hour month at 10 cents.
    expect(backupStorageAmountCents(1e9 * 730, 10)).toBe(10);
    // 1 GB for one hour: 10 / 730 of a cent, rounded to nothing; a line sums its hours first.
    expect(backupStorageAmountCents(1e9, 10)).toBe(0);
    expect(backupStorageAmountCents(1e9 * 37, 10)).toBe(1); // 0.507 → 1
    expect(backupStorageAmountCents(1e9 * 36, 10)).toBe(0); // 0.493 → 0
    // Exactly half a cent rounds up.
    expect(backupStorageAmountCents(365e9, 1)).toBe(1);
    expect(backupStorageAmountCents(365e9 - 1, 1)).toBe(0);
    expect(backupStorageAmountCents(0, 10)).toBe(0);
  });

  it('stays exact where floating point would not (a fleet’s byte-hours times a price)', () => {
    // 2 PB kept for a 744-hour month at 999 cents: 1.488e18 × 999 is past 2^53.
    const byteHours = 2e15 * 744;
    expect(backupStorageAmountCents(byteHours, 999)).toBe(Number((BigInt(byteHours) * 999n * 2n + 730_000_000_000n) / 1_460_000_000_000n));
  });

  it('prices each meter of a line at its plan’s own unit price', () => {
    expect(unitPriceCents('running_seconds', plan)).toBe(5);
    expect(unitPriceCents('suspended_seconds', plan)).toBe(1);
    expect(unitPriceCents('backup_storage_bytes', plan)).toBe(10);
    expect(unitPriceCents('db_storage_bytes', plan)).toBe(0);
    expect(unitPriceCents('running_seconds', undefined)).toBe(0);
    expect(lineAmountCents('running_seconds', 3600, plan)).toBe(5);
    expect(lineAmountCents('suspended_seconds', 1800, plan)).toBe(1); // 0.5 → 1
    expect(lineAmountCents('backup_storage_bytes', 1e9 * 730, plan)).toBe(10);
    expect(lineAmountCents('db_storage_bytes', 1e12, plan)).toBe(0);
    expect(lineAmountCents('backup_storage_bytes', 1e9 * 730, undefined)).toBe(0);
  });
});
