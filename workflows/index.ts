// The workflow bundle's entry point: every operation Shipyard runs on an instance, and the
// scheduled reconciliation of operations whose runs closed without recording their result,
// metering and invoicing, the delivery of outbound webhooks, and the health sweep.
export { backupInstance, removeBackupObjects } from './backup';
export { changeInstancePlan } from './change-plan';
export { invoiceOwner, invoicePeriod } from './invoicing';
export { meterUsage } from './metering';
export { provisionInstance } from './provision';
export { reconcileOperations } from './reconcile';
export { restoreInstance } from './restore';
export { resumeInstance, suspendInstance } from './suspend-resume';
export { rolloutFleet } from './rollout';
export { cleanupInstance, teardownInstance } from './teardown';
export { upgradeInstance } from './upgrade';
export { deliverWebhook } from './webhooks';
export { checkInstanceNow, healthSweep } from './health';
export { backupSweep } from './backup-sweep';
export { rotateCredentials } from './rotate-credentials';
export { credentialRotationSweep } from './credential-rotation-sweep';
export { reportClusters } from './cluster-reports';
export { moveInstance } from './move';
