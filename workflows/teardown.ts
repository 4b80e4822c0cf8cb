import type { InstanceStatus } from '../domain/instance';
import type { OperationResult } from '../domain/operations';
import type { CleanupInput, TeardownInput } from '../domain/operation-kinds';
import { quick } from './activities';
import { failOperation, openRunbook, recordOutcome } from './outcome';

export const teardownSteps = [
  'record deleting',
  'delete ingress',
  'delete certificate',
  'delete DNS record',
  'delete namespace',
  'drop database',
] as const;

export const cleanupSteps = ['check instance failed', ...teardownSteps.slice(1)] as const;

/**
 * Removes everything an instance had, outermost first (traffic, then name, then workload and
 * data). Every step treats "already gone" as done, so a failed teardown can simply be run
 * again. The catalogue keeps the instance row and its history.
 */
export async function teardownInstance(input: TeardownInput): Promise<OperationResult> {
  return removeEverything('teardown', teardownSteps, input, { status: 'deleted' });
}

/**
 * What a provision that ended without undoing itself (its run terminated or timed out) may have
 * left is removed; the instance stays `failed` and keeps its slug, like a provision that failed
 * and compensated.
 */
export async function cleanupInstance(input: CleanupInput): Promise<OperationResult> {
  return removeEverything('cleanup', cleanupSteps, input, { status: 'failed' }, 'leftovers of the abandoned provision removed');
}

/** Whatever is left when a removal fails is still Shipyard's; running it again finishes the job. */
async function removeEverything(
  kind: 'teardown' | 'cleanup',
  stepNames: readonly string[],
  input: TeardownInput,
  after: { status: InstanceStatus },
  message?: string,
): Promise<OperationResult> {
  const { slug } = input;
  const { run, wait } = await openRunbook(kind, stepNames, input);
  try {
    await run.step('delete ingress', () => quick.deleteIngress(slug));
    await run.step('delete certificate', () => quick.deleteCertificate(slug));
    await run.step('delete DNS record', () => wait.deleteDnsRecord(slug));
    await run.step('delete namespace', () => wait.deleteNamespace(slug));
    await run.step('drop database', () => quick.dropTenantDatabase(slug));
  } catch (err) {
    return failOperation(input, run, err, 'failed');
  }
  return recordOutcome(input, run, { status: 'succeeded', steps: run.snapshot }, after, message);
}
