// Server-side Temporal objects the worker needs, created or brought up to date when it starts:
// running this any number of times, from any number of workers, leaves exactly one of each, set
// as the current config says.
import { type Client, ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../domain/config';
import { connectTemporalClient } from '../temporal/data-converter';
import { scheduledSearchAttributes } from '../domain/search-attributes';
import { backupSweepScheduleId, clusterReportsScheduleId, credentialRotationScheduleId, healthSweepScheduleId, invoicingScheduleId, meteringScheduleId, reconcileScheduleId } from '../domain/schedules';


/**
 * Every schedule Shipyard runs, as the config wants it. Each run carries its job's name in
 * ShipyardOperation, when the namespace has Shipyard's search attributes (`searchAttributes`).
 */
export function desiredSchedules(config: Config, searchAttributes = true): ScheduleOptions[] {
  return [
    {
      scheduleId: reconcileScheduleId(config),
      spec: { intervals: [{ every: `${config.reconcileIntervalSeconds}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'reconcileOperations',
        typedSearchAttributes: searchAttributes ? scheduledSearchAttributes('reconcile') : undefined,
        workflowId: reconcileScheduleId(config),
        taskQueue: config.taskQueue,
      },
      // A pass still running when the next is due makes the next one pointless.
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      scheduleId: meteringScheduleId(config),
      // A few minutes past the hour, so the hour just ended is closed soon after it ends.
      spec: { cronExpressions: [config.meteringCron] },
      action: {
        type: 'startWorkflow',
        workflowType: 'meterUsage',
        typedSearchAttributes: searchAttributes ? scheduledSearchAttributes('metering') : undefined,
        workflowId: meteringScheduleId(config),
        taskQueue: config.taskQueue,
        // The cursor is per deployment, like the schedule: each closes its own hours.
        args: [{ cursor: meteringScheduleId(config), hoursPerRun: config.meteringHoursPerRun }],
      },
      // A pass catching up is still closing the hours the next one would.
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      scheduleId: invoicingScheduleId(config),
      // Day 1, 00:30 by default: the month before is over and its last hour metered.
      spec: { cronExpressions: [config.invoicingCron], timezone: config.invoicingTimezone },
      action: {
        type: 'startWorkflow',
        workflowType: 'invoicePeriod',
        typedSearchAttributes: searchAttributes ? scheduledSearchAttributes('invoicing') : undefined,
        workflowId: invoicingScheduleId(config),
        taskQueue: config.taskQueue,
        // No period: the run invoices the month before the one it starts in.
        args: [{ meteringCursor: meteringScheduleId(config) }],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      scheduleId: healthSweepScheduleId(config),
      spec: { intervals: [{ every: `${config.healthIntervalSeconds}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'healthSweep',
        typedSearchAttributes: searchAttributes ? scheduledSearchAttributes('health-sweep') : undefined,
        workflowId: healthSweepScheduleId(config),
        taskQueue: config.taskQueue,
        args: [{ parallelism: config.healthParallelism }],
      },
      // A sweep still running when the next is due: the next would check the same instances.
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      // One schedule for the whole fleet, never one per instance: each firing costs Temporal
      // actions, and the sweep finds which instances are due itself.
      scheduleId: backupSweepScheduleId(config),
      spec: { intervals: [{ every: `${config.backupSweepIntervalSeconds}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'backupSweep',
        typedSearchAttributes: searchAttributes ? scheduledSearchAttributes('backup-sweep') : undefined,
        workflowId: backupSweepScheduleId(config),
        taskQueue: config.taskQueue,
        args: [{ parallelism: config.backupParallelism }],
      },
      // A sweep still backing up when the next is due: the next would find the same instances.
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      // One schedule for every cluster: its run asks each cluster's worker, on that cluster's queue.
      scheduleId: clusterReportsScheduleId(config),
      spec: { intervals: [{ every: `${config.clusterReportSeconds}s` }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'reportClusters',
        typedSearchAttributes: searchAttributes ? scheduledSearchAttributes('cluster-reports') : undefined,
        workflowId: clusterReportsScheduleId(config),
        taskQueue: config.taskQueue,
        args: [{ periodSeconds: config.clusterReportSeconds }],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    ...(config.rotateAfterDays === undefined ? [] : [credentialRotationSchedule(config, config.rotateAfterDays, searchAttributes)]),
  ];
}

/** Rotations a credential rotation sweep runs at once: each is a rolling restart of an instance. */
export const CREDENTIAL_ROTATION_PARALLELISM = 4;

function credentialRotationSchedule(config: Config, olderThanDays: number, searchAttributes: boolean): ScheduleOptions {
  return {
    scheduleId: credentialRotationScheduleId(config),
    // Daily, at a quiet hour; an instance is rotated on the first sweep after its credentials reach the age.
    spec: { calendars: [{ hour: 3, minute: 17 }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'credentialRotationSweep',
      typedSearchAttributes: searchAttributes ? scheduledSearchAttributes('credential-rotation-sweep') : undefined,
      workflowId: credentialRotationScheduleId(config),
      taskQueue: config.taskQueue,
      args: [{ olderThanDays, parallelism: CREDENTIAL_ROTATION_PARALLELISM }],
    },
    // A sweep still rotating when the next is due: the next would find the same instances.
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
  };
}

/** Schedules that exist only while a setting asks for them: removed when it no longer does. */
const optionalScheduleIds = (config: Config): string[] => [credentialRotationScheduleId(config)];

export async function ensureSchedules(client: Client, config: Config, options: { searchAttributes?: boolean } = {}): Promise<void> {
  for (const desired of desiredSchedules(config, options.searchAttributes ?? true)) {
    try {
      await client.schedule.create(desired);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(desired.scheduleId).update((current) => ({
        ...current,
        spec: desired.spec,
        action: desired.action,
        policies: { ...current.policies, ...desired.policies },
      }));
    }
  }
  const wanted = new Set(desiredSchedules(config).map((s) => s.scheduleId));
  for (const scheduleId of optionalScheduleIds(config).filter((id) => !wanted.has(id))) await deleteSchedule(client, scheduleId);
}

/** Deletes a schedule; an absent one counts as deleted. */
async function deleteSchedule(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}

/**
 * Removes a deployment's schedules, for a deployment that goes away for good (a test's or a
 * bench's, on a task queue of its own): left behind, they would keep starting runs that no
 * worker takes. Absent ones count as removed.
 */
export async function removeSchedules(config: Config): Promise<void> {
  const { client, connection } = await connectTemporalClient(config);
  try {
    const ids = new Set([...desiredSchedules(config).map((s) => s.scheduleId), ...optionalScheduleIds(config)]);
    for (const scheduleId of ids) await deleteSchedule(client, scheduleId);
  } finally {
    await connection.close();
  }
}
