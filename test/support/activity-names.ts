// Every activity the workflows call, for stand-in workers (workflow tests, the history recorder):
// a worker registers only the names it is given, so a stand-in must list them all.
import type { Activities } from '../../activities';

export const activityNames: (keyof Activities)[] = [
  'claimInstance', 'markInstance', 'finishOperation', 'recordEvent',
  'ensureTenantDatabase', 'dropTenantDatabase',
  'applyNamespace', 'deleteNamespace', 'writeAppSecret', 'deleteAppSecret',
  'applyWorkload', 'deleteWorkload', 'readWorkload', 'scaleWorkload', 'waitForRollout',
  'applyCertificate', 'waitForCertificateReady', 'deleteCertificate', 'applyIngress', 'deleteIngress',
  'upsertDnsRecord', 'deleteDnsRecord', 'reconcileRunningOperations',
  'checkCapacity', 'sampleStorage', 'hoursToMeter', 'meterHour', 'ownersToInvoice', 'draftInvoice', 'issueInvoice',
  'selectRolloutTargets', 'upgradeForRollout',
];
