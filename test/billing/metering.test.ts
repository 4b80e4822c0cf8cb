// Metering against the real catalogue and Temporal: every status write leaves a history row,
// the metering workflow (real activities) closes every hour it missed, and closing an hour again
// changes nothing.
import '../support/temporal-runtime';
import type { Client, Connection } from '@temporalio/client';
import { connectTemporalClient } from '../../temporal/data-converter';
import { and, asc, eq } from 'drizzle-orm';
import { prebuiltWorkflowBundle } from '../support/build';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { testbedDeps } from '../activities/testbed-deps';
import type { Database } from '../../db/client';
import { connectCatalogue } from '../../db/client';
import { markInstance } from '../../db/instances';
import { claimInstance, finishAbandonedOperation } from '../../db/operations';
import * as metering from '../../db/metering';
import { migrateCatalogue } from '../../db/migrate';
import { instanceStatusChanges, usageLedger } from '../../db/schema';
import { HOUR_MS, hourOf } from '../../domain/metering';
import { createWorker } from '../../worker/index';
import { desiredSchedules, ensureSchedules } from '../../worker/schedules';
import { invoicingScheduleId, meteringScheduleId, reconcileScheduleId } from '../../domain/schedules';
import { newCatalogueInstance } from '../support/catalogue-rows';
import { testConfig, uniqueSuffix } from '../support/config';

const config = testConfig({ SHIPYARD_TASK_QUEUE: `metering-${uniqueSuffix()}`, SHIPYARD_METERING_HOURS_PER_RUN: '10' });
let db: Database;
let connection: Connection;
let client: Client;
const deps = testbedDeps();

beforeAll(async () => {
  await migrateCatalogue(config.databaseUrl);
  db = connectCatalogue(config.databaseUrl, { max: 4 });
  ({ client, connection } = await connectTemporalClient(config));
});
afterAll(async () => {
  await connection?.close();
  await db?.$client.end();
  await deps.tenantDb.end();
});

const newInstance = () => newCatalogueInstance(db, 'meter');

const history = (instanceId: string) =>
  db
    .select({ status: instanceStatusChanges.status, plan: instanceStatusChanges.plan })
    .from(instanceStatusChanges)
    .where(eq(instanceStatusChanges.instanceId, instanceId))
    .orderBy(asc(instanceStatusChanges.at), asc(instanceStatusChanges.id));

describe('status history', () => {
  it('records every status and plan the catalogue writes, once each, with the plan in force', async () => {
    const { instanceId, operationId } = await newInstance();
    await markInstance(db, instanceId, { status: 'ready' });
    await markInstance(db, instanceId, { status: 'ready' }); // a retried write adds nothing
    await claimInstance(db, { instanceId, operationId, from: 'ready', to: 'changing_plan' });
    await markInstance(db, instanceId, { status: 'ready', plan: 'standard' });
    const [op] = await db.select().from((await import('../../db/schema')).operations).where(eq((await import('../../db/schema')).operations.id, operationId));
    await finishAbandonedOperation(db, op!, { status: 'failed', error: 'test', instanceStatus: 'failed' });
    expect(await history(instanceId)).toEqual([
      { status: 'provisioning', plan: 'starter' },
      { status: 'ready', plan: 'starter' },
      { status: 'changing_plan', plan: 'starter' },
      { status: 'ready', plan: 'standard' },
      { status: 'failed', plan: 'standard' },
    ]);
  });
});

/** An instance whose history is written with chosen times (the catalogue stamps now() otherwise). */
async function instanceWithPast(changes: { status: 'ready' | 'suspended' | 'deleted'; plan: string; at: Date }[]) {
  const { instanceId } = await newInstance();
  await db.delete(instanceStatusChanges).where(eq(instanceStatusChanges.instanceId, instanceId));
  await db.insert(instanceStatusChanges).values(changes.map((c) => ({ instanceId, ...c })));
  return instanceId;
}

const ledger = (instanceId: string) =>
  db
    .select()
    .from(usageLedger)
    .where(and(eq(usageLedger.instanceId, instanceId)))
    .orderBy(asc(usageLedger.hour), asc(usageLedger.meter), asc(usageLedger.plan));

describe('the metering workflow', () => {
  it('catches up a missed day hour by hour, continuing as new, and a rerun changes nothing', async () => {
    const start = new Date(hourOf(new Date()).getTime() - 26 * HOUR_MS);
    const t = (hours: number, minutes = 0) => new Date(start.getTime() + hours * HOUR_MS + minutes * 60_000);
    // Ready for 20 h 40 min on starter, suspended 30 min, ready on standard until deleted 3 h later.
    const instanceId = await instanceWithPast([
      { status: 'ready', plan: 'starter', at: t(0, 20) },
      { status: 'suspended', plan: 'starter', at: t(21) },
      { status: 'ready', plan: 'standard', at: t(21, 30) },
      { status: 'deleted', plan: 'standard', at: t(24, 30) },
    ]);
    const cursor = `test-${uniqueSuffix()}`;
    // The worker was off: nothing was metered since `start`.
    await metering.setMeteringCursor(db, cursor, start);

    const { worker, connection: workerConnection } = await createWorker(config, createActivities({ ...deps, db, temporal: client, config }), {
      workflowBundle: prebuiltWorkflowBundle,
    });
    const runOnce = () =>
      client.workflow.execute('meterUsage', {
        taskQueue: config.taskQueue,
        workflowId: `${cursor}-${uniqueSuffix()}`,
        args: [{ cursor, hoursPerRun: config.meteringHoursPerRun }],
      });
    try {
      await worker.runUntil(async () => {
        const hourBefore = hourOf(new Date());
        await runOnce();
        const hourAfter = hourOf(new Date());
        const rows = await ledger(instanceId);
        const sum = (meter: string, plan: string) => rows.filter((r) => r.meter === meter && r.plan === plan).reduce((a, r) => a + r.quantity, 0);
        expect(sum('running_seconds', 'starter')).toBe(20 * 3600 + 40 * 60);
        expect(sum('suspended_seconds', 'starter')).toBe(30 * 60);
        expect(sum('running_seconds', 'standard')).toBe(3 * 3600);
        // Every hour it ran has a row: 21 on starter (the 21st hour split with the suspension), 4 on standard.
        expect(new Set(rows.map((r) => r.hour.getTime())).size).toBe(25);
        // The current hour, as of the run (which may straddle an hour's end).
        expect([hourBefore.getTime(), hourAfter.getTime()]).toContain((await metering.firstUnmeteredHour(db, cursor)).getTime());

        // Metering the same hours again (a cursor moved back, a rerun) writes nothing new.
        await metering.setMeteringCursor(db, cursor, start);
        await runOnce();
        expect(await ledger(instanceId)).toEqual(rows);
      });
    } finally {
      await workerConnection.close();
    }
  }, 120_000);

  it('closes one hour idempotently', async () => {
    const hour = new Date(hourOf(new Date()).getTime() - 40 * HOUR_MS);
    const instanceId = await instanceWithPast([{ status: 'ready', plan: 'pro', at: new Date(hour.getTime() + 15 * 60_000) }]);
    const cursor = `test-${uniqueSuffix()}`;
    expect(await metering.meterHour(db, cursor, hour)).toBeGreaterThanOrEqual(1);
    const once = await ledger(instanceId);
    expect(once.map((r) => [r.meter, r.plan, r.quantity])).toEqual([['running_seconds', 'pro', 45 * 60]]);
    await metering.meterHour(db, cursor, hour);
    expect(await ledger(instanceId)).toEqual(once);
  });
});

describe('schedules', () => {
  it('exist with the configured specs after the worker starts, and ensuring them again changes nothing', async () => {
    const custom = { ...config, meteringCron: '7 * * * *', invoicingCron: '30 0 1 * *', invoicingTimezone: 'Europe/Paris' };
    try {
      await ensureSchedules(client, custom);
      await ensureSchedules(client, custom);
      const metered = await client.schedule.getHandle(meteringScheduleId(custom)).describe();
      expect(metered.action).toMatchObject({ type: 'startWorkflow', workflowType: 'meterUsage', taskQueue: custom.taskQueue });
      expect(metered.action.type === 'startWorkflow' && metered.action.args).toEqual([{ cursor: meteringScheduleId(custom), hoursPerRun: 10 }]);
      expect(metered.spec.calendars).toEqual([expect.objectContaining({ minute: [{ start: 7, end: 7, step: 1 }] })]);
      const invoicing = await client.schedule.getHandle(invoicingScheduleId(custom)).describe();
      expect(invoicing.action).toMatchObject({ type: 'startWorkflow', workflowType: 'invoicePeriod', taskQueue: custom.taskQueue });
      expect(invoicing.spec.timezone).toBe('Europe/Paris');
      expect(invoicing.spec.calendars).toEqual([
        expect.objectContaining({ minute: [{ start: 30, end: 30, step: 1 }], hour: [{ start: 0, end: 0, step: 1 }], dayOfMonth: [{ start: 1, end: 1, step: 1 }] }),
      ]);
      expect(desiredSchedules(custom).map((s) => s.scheduleId)).toEqual(
        expect.arrayContaining([reconcileScheduleId(custom), meteringScheduleId(custom), invoicingScheduleId(custom)]),
      );
    } finally {
      for (const s of desiredSchedules(custom)) await client.schedule.getHandle(s.scheduleId).delete().catch(() => undefined);
    }
  });
});
