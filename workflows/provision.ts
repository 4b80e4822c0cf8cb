import { setHandler } from '@temporalio/workflow';
import type { OperationResult, ProvisionInput } from '../domain/operations';
import { quick, waiting } from './activities';
import { failOperation, recordOutcome } from './outcome';
import { progressQuery } from './queries';
import { Runbook } from './runbook';

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

/**
 * Gives a customer a working, isolated instance. Any permanent failure, a rollout that does not
 * become available in time, or a cancel undoes every step taken so far, newest first: the
 * instance ends `failed` with nothing left in Kubernetes, Route 53 or Postgres.
 */
export async function provisionInstance(input: ProvisionInput): Promise<OperationResult> {
  const { slug, plan, version, instanceId } = input;
  const wait = waiting(input.settings);
  const run = new Runbook('provision', provisionSteps);
  setHandler(progressQuery, () => run.progress());

  try {
    await run.step('record instance', () => quick.markInstance(instanceId, { status: 'provisioning' }));
    await run.step(
      'create database',
      () => quick.ensureTenantDatabase(slug),
      () => quick.dropTenantDatabase(slug),
    );
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
      () => wait.upsertDnsRecord(slug),
      () => wait.deleteDnsRecord(slug),
    );
    await run.step(
      'request certificate',
      () => quick.applyCertificate(slug),
      () => quick.deleteCertificate(slug),
    );
    await run.step('wait for certificate', () => wait.waitForCertificateReady(slug));
    await run.step(
      'create ingress',
      () => quick.applyIngress(slug),
      () => quick.deleteIngress(slug),
    );
    await run.step('wait for rollout', () =>
      wait.waitForRollout(slug, { timeoutSeconds: input.settings.rolloutTimeoutSeconds }),
    );
  } catch (err) {
    return failOperation(input, run, err, 'failed');
  }
  return recordOutcome(input, 'provision', { status: 'succeeded', steps: run.snapshot }, { status: 'ready', version }, `ready at version ${version}`);
}
