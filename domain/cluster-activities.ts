// The activities that touch a cluster (its Kubernetes API, its tenant database): in a multi-cluster
// install they run on the cluster's own queue, served by the worker inside it. Pure, so workflow
// code (which routes them) and the lifecycle (which explains a wait for them) both read it;
// workflows/activities.ts checks every name against the activities.
export const clusterActivityNames = [
  'applyNamespace',
  'deleteNamespace',
  'writeAppSecret',
  'deleteAppSecret',
  'applyWorkload',
  'deleteWorkload',
  'readWorkload',
  'scaleWorkload',
  'waitForRollout',
  'applyCertificate',
  'waitForCertificateReady',
  'applyWildcardCertificate',
  'waitForWildcardCertificateReady',
  'deleteCertificate',
  'applyIngress',
  'deleteIngress',
  'ensureTenantDatabase',
  'dropTenantDatabase',
  'takeBackup',
  'restoreIntoSideDatabase',
  'swapInRestoredDatabase',
  'swapBackPreviousDatabase',
  'dropSideDatabases',
  'restoreConfiguration',
  'readDatabaseLogin',
  'writeRotatedCredentials',
  'restartAppForCredentials',
  'restorePreviousCredentials',
  'disableDatabaseLogin',
  'markTenantDatabase',
  'readTenantDatabaseMark',
  'writeStandbyLogin',
  'checkCapacity',
  'reportClusterCapacity',
] as const;

export type ClusterActivityName = (typeof clusterActivityNames)[number];

export function isClusterActivity(name: string | null | undefined): boolean {
  return (clusterActivityNames as readonly string[]).includes(name ?? '');
}
