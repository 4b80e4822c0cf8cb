// Every activity the workflows call, for stand-in workers (workflow tests, the history recorder):
// a worker registers only the names it is given, so a stand-in must list them all. And stand-ins
// that log each call, for workflow tests that check what was called in which order.
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

export type ActivityCall = { name: keyof Activities; args: unknown[] };
export type ActivityBehaviour = Partial<Record<keyof Activities, (...args: any[]) => Promise<unknown>>>;

/** Stand-ins for `names` that log every call; `behaviour` answers for single activities (else undefined). */
export function recordingActivities(names: (keyof Activities)[], behaviour: ActivityBehaviour = {}) {
  const calls: ActivityCall[] = [];
  const activities = Object.fromEntries(
    names.map((name) => [
      name,
      async (...args: unknown[]) => {
        calls.push({ name, args });
        return behaviour[name]?.(...args);
      },
    ]),
  );
  return { activities, calls };
}
