// Every activity the workflows call, for stand-in workers (workflow tests, the history recorder):
// a worker registers only the names it is given, so a stand-in must list them all. And stand-ins
// that log each call, for workflow tests that check what was called in which order.
import type { Activities } from '../../activities';

/** Every activity, once: a name missing here (or one that no longer exists) is a compile error. */
const everyActivity: Record<keyof Activities, true> = {
  claimInstance: true,
  markInstance: true,
  finishOperation: true,
  closeOperation: true,
  recordEvent: true,
  setPurgeAt: true,
  placeInstance: true,
  markTenantDatabase: true,
  readTenantDatabaseMark: true,
  writeStandbyLogin: true,
  keepFinalBackups: true,
  ensureTenantDatabase: true,
  dropTenantDatabase: true,
  applyNamespace: true,
  deleteNamespace: true,
  writeAppSecret: true,
  deleteAppSecret: true,
  applyWorkload: true,
  deleteWorkload: true,
  readWorkload: true,
  scaleWorkload: true,
  waitForRollout: true,
  applyCertificate: true,
  waitForCertificateReady: true,
  deleteCertificate: true,
  applyWildcardCertificate: true,
  waitForWildcardCertificateReady: true,
  applyIngress: true,
  deleteIngress: true,
  upsertDnsRecord: true,
  deleteDnsRecord: true,
  reconcileRunningOperations: true,
  checkCapacity: true,
  sampleStorage: true,
  hoursToMeter: true,
  meterHour: true,
  ownersToInvoice: true,
  draftInvoice: true,
  issueInvoice: true,
  selectRolloutTargets: true,
  selectRolloutTargetsByRegion: true,
  upgradeForRollout: true,
  deliverWebhook: true,
  giveUpWebhookDelivery: true,
  findOrphans: true,
  removeOrphan: true,
  sweepOrphans: true,
  openSweep: true,
  instancesToCheck: true,
  instancesToCheckWithQueues: true,
  healthCheckQueueOf: true,
  updateSweep: true,
  checkInstanceHealth: true,
  beginBackup: true,
  takeBackup: true,
  discardBackup: true,
  verifyBackup: true,
  restoreIntoSideDatabase: true,
  swapInRestoredDatabase: true,
  swapBackPreviousDatabase: true,
  dropSideDatabases: true,
  restoreConfiguration: true,
  deleteBackupObjects: true,
  backupSweepBegins: true,
  instancesDueForBackup: true,
  backupForSweep: true,
  expireBackups: true,
  repairBackups: true,
  readDatabaseLogin: true,
  writeRotatedCredentials: true,
  restartAppForCredentials: true,
  restorePreviousCredentials: true,
  disableDatabaseLogin: true,
  markCredentialsRotated: true,
  rotationSweepBegins: true,
  instancesDueForRotation: true,
  rotateCredentialsForSweep: true,
  registeredClusters: true,
  reportClusterCapacity: true,
};

export const activityNames = Object.keys(everyActivity) as (keyof Activities)[];

export type ActivityCall = { name: keyof Activities; args: unknown[] };
export type ActivityBehaviour = Partial<Record<keyof Activities, (...args: any[]) => Promise<unknown>>>;

/** Stand-ins for `names` that log every call; `behaviour` answers for single activities (else undefined). */
export function recordingActivities(names: (keyof Activities)[], behaviour: ActivityBehaviour = {}) {
  const calls: ActivityCall[] = [];
  const stub = (name: keyof Activities) => async (...args: unknown[]) => {
    calls.push({ name, args });
    return behaviour[name]?.(...args);
  };
  // An operation's end is one call (closeOperation) making the three writes these stand-ins are
  // asked about: logged as those writes, in their order, so tests read what was recorded.
  const closeOperation = async (close: { instance?: unknown; event: { instanceId: string; operationId: string }; result: unknown }) => {
    if (behaviour.closeOperation) {
      calls.push({ name: 'closeOperation', args: [close] });
      return behaviour.closeOperation(close);
    }
    if (close.instance) await stub('markInstance')(close.event.instanceId, close.instance);
    await stub('recordEvent')(close.event);
    await stub('finishOperation')(close.event.operationId, close.result);
    return undefined;
  };
  const activities = Object.fromEntries(
    names.map((name) => [
      name,
      async (...args: unknown[]) => {
        calls.push({ name, args });
        return behaviour[name]?.(...args);
      },
    ]),
  );
  if (names.includes('finishOperation')) Object.assign(activities, { closeOperation });
  return { activities, calls };
}
