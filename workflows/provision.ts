import type { OperationResult } from '../domain/operations';
import type { ProvisionInput } from '../domain/operation-kinds';
import { quick, transfer } from './activities';
import { failOperation, openRunbook, recordOutcome } from './outcome';

export const provisionSteps = [
  'record instance',
  'create database',
  'create namespace',
  'write secrets',
  'deploy app',
  'publish DNS record',
  'request certificate',
  'wait for certificate',
  'create ingress',
  'wait for rollout',
] as const;

/** A clone restores its new database from a backup before anything else is built on it. */
export const cloneSteps = [
  ...provisionSteps.slice(0, 2),
  'restore data from backup',
  'put restored data in place',
  'drop empty database',
  ...provisionSteps.slice(2),
] as const;

/**
 * Gives a customer a working, isolated instance (a clone: with the data of a backup). Any permanent failure, a rollout that does not
 * become available in time, or a cancel undoes every step started so far, newest first: the
 * instance ends `failed` with nothing left in Kubernetes, Route 53 or Postgres.
 */
export async function provisionInstance(input: ProvisionInput): Promise<OperationResult> {
  const { slug, plan, version } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const { fromBackup, operationId } = input;
  // Fixed when the operation was accepted; runs from before the setting have none and began per instance.
  const tlsMode = input.settings.tlsMode ?? 'per-instance';
  const { run, wait } = await openRunbook('provision', fromBackup ? cloneSteps : provisionSteps, input);
  try {
    await run.step(
      'create database',
      () => quick.ensureTenantDatabase(slug, { connectionLimit: plan.dbConnections }),
      () => quick.dropTenantDatabase(slug),
    );
    if (fromBackup) {
      // The backup's data, restored under this instance's own role, replaces the empty database.
      const side = { slug, operationId };
      await run.step(
        'restore data from backup',
        () => transfer.restoreIntoSideDatabase({ backupId: fromBackup.backupId, slug, operationId }),
        () => quick.dropSideDatabases(side),
      );
      await run.step('put restored data in place', () => quick.swapInRestoredDatabase(side));
      await run.step('drop empty database', () => quick.dropSideDatabases(side));
    }
    await run.step(
      'create namespace',
      () => quick.applyNamespace(slug, plan),
      () => wait.deleteNamespace(slug),
    );
    await run.step(
      'write secrets',
      () => quick.writeAppSecret(slug),
      () => quick.deleteAppSecret(slug),
    );
    await run.step(
      'deploy app',
      () => quick.applyWorkload(slug, { plan, version, replicas: plan.replicas }),
      () => quick.deleteWorkload(slug),
    );
    await run.step(
      'publish DNS record',
      // A placed instance's name points at its cluster's ingress.
      () => (input.placement ? wait.upsertDnsRecord(slug, input.placement.ingressTarget) : wait.upsertDnsRecord(slug)),
      () => wait.deleteDnsRecord(slug),
    );
    if (tlsMode === 'wildcard') {
      // The one certificate every instance serves: ensured and awaited (no instance serves before
      // it is Ready), never undone, since the others serve it too.
      await run.step('request certificate', () => quick.applyWildcardCertificate());
      await run.step('wait for certificate', () => wait.waitForWildcardCertificateReady());
    } else {
      await run.step(
        'request certificate',
        () => quick.applyCertificate(slug),
        () => quick.deleteCertificate(slug),
      );
      await run.step('wait for certificate', () => wait.waitForCertificateReady(slug));
    }
    await run.step(
      'create ingress',
      () => quick.applyIngress(slug, tlsMode),
      () => quick.deleteIngress(slug),
    );
    await run.step('wait for rollout', () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, version }));
  } catch (err) {
    return failOperation(input, run, err, 'failed');
  }
  return recordOutcome(input, run, { status: 'succeeded', steps: run.snapshot }, { status: 'ready', version }, `ready at version ${version}`);
}
