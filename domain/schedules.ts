// The ids of the schedules Shipyard keeps (worker/schedules.ts creates them): the API reads the
// metering and invoicing schedules' state by the same ids.
import type { Config } from './config';

/**
 * A schedule belongs to the deployment whose workers poll its task queue: the default queue keeps
 * the plain id (`shipyard-reconcile`), another deployment on the same Temporal namespace (a
 * staging install, a test run) gets its own, so none redirects another's schedule to itself.
 */
export function scheduleIdFor(base: string, config: Pick<Config, 'taskQueue'>): string {
  return config.taskQueue === 'shipyard' ? base : `${base}@${config.taskQueue}`;
}

export const reconcileScheduleId = (config: Pick<Config, 'taskQueue'>) => scheduleIdFor('shipyard-reconcile', config);
export const healthSweepScheduleId = (config: Pick<Config, 'taskQueue'>) => scheduleIdFor('shipyard-health-sweep', config);

export const meteringScheduleId = (config: Pick<Config, 'taskQueue'>) => scheduleIdFor('shipyard-metering', config);

export const invoicingScheduleId = (config: Pick<Config, 'taskQueue'>) => scheduleIdFor('shipyard-invoicing', config);

/** The fleet-wide backup sweep: starts the scheduled backups that are due, then lets go what retention allows. */
export const backupSweepScheduleId = (config: Pick<Config, 'taskQueue'>) => scheduleIdFor('shipyard-backups', config);

/** The daily credential rotation sweep: only while SHIPYARD_ROTATE_AFTER_DAYS is set. */
export const credentialRotationScheduleId = (config: Pick<Config, 'taskQueue'>) => scheduleIdFor('shipyard-rotate-credentials', config);

/** Every cluster worker's capacity report (multi-cluster installs; with no cluster registered it does nothing). */
export const clusterReportsScheduleId = (config: Pick<Config, 'taskQueue'>) => scheduleIdFor('shipyard-cluster-reports', config);
