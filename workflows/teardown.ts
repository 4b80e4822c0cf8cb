import { setHandler } from '@temporalio/workflow';
import type { OperationResult, TeardownInput } from '../domain/operations';
import { quick, waiting } from './activities';
import { failOperation, recordOutcome } from './outcome';
import { progressQuery } from './queries';
import { Runbook } from './runbook';

export const teardownSteps = [
  'record deleting',
  'delete ingress',
  'delete certificate',
  'delete DNS record',
  'delete namespace',
  'drop database',
] as const;

/**
 * Removes everything an instance had, outermost first (traffic, then name, then workload and
 * data). Every step treats "already gone" as done, so a failed teardown can simply be run
 * again. The catalogue keeps the instance row and its history.
 */
export async function teardownInstance(input: TeardownInput): Promise<OperationResult> {
  const { slug, instanceId } = input;
  const wait = waiting(input.settings);
  const run = new Runbook('teardown', teardownSteps);
  setHandler(progressQuery, () => run.progress());

  try {
    await run.step('record deleting', () => quick.markInstance(instanceId, { status: 'deleting' }));
    await run.step('delete ingress', () => quick.deleteIngress(slug));
    await run.step('delete certificate', () => quick.deleteCertificate(slug));
    await run.step('delete DNS record', () => wait.deleteDnsRecord(slug));
    await run.step('delete namespace', () => wait.deleteNamespace(slug));
    await run.step('drop database', () => quick.dropTenantDatabase(slug));
  } catch (err) {
    // Whatever is left is still Shipyard's; a repeated teardown finishes the job.
    return failOperation(input, run, err, 'failed');
  }
  return recordOutcome(input, 'teardown', { status: 'succeeded', steps: run.snapshot }, { status: 'deleted' });
}
