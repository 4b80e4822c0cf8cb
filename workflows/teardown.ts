import { ActivityFailure, ApplicationFailure, condition, patched, setHandler } from '@temporalio/workflow';
import type { InstanceStatus } from '../domain/instance';
import type { OperationResult } from '../domain/operations';
import type { CleanupInput, TeardownInput } from '../domain/operation-kinds';
import { closing, quick } from './activities';
import { takeBackup } from './backup';
import { failOperation, openRunbook, recordOutcome } from './outcome';
import { undeleteUpdate } from './queries';
import type { Runbook } from './runbook';

export const teardownSteps = [
  'record deleting',
  'delete ingress',
  'delete certificate',
  'delete DNS record',
  'delete namespace',
  'drop database',
] as const;

export const cleanupSteps = ['check instance failed', ...teardownSteps.slice(1)] as const;

const purgeSteps = teardownSteps.slice(1);

export const deleteSteps = [
  'record deleting',
  'stop serving',
  'wait for app to stop',
  'begin final backup',
  'take final backup',
  'wait out the grace period',
  ...purgeSteps,
  'keep final backup for its retention',
  'start app again',
  'wait for app to serve',
] as const;

/**
 * The patch under which a delete stops serving, takes a final backup and waits out a grace period
 * before it purges. Runs started before it purge at once, as they began to.
 */
export const DELETE_WITH_GRACE = 'delete-with-grace';

/**
 * Removes everything an instance had, outermost first (traffic, then name, then workload and
 * data). Every step treats "already gone" as done, so a failed teardown can simply be run
 * again. The catalogue keeps the instance row and its history.
 */
export async function teardownInstance(input: TeardownInput): Promise<OperationResult> {
  if (!patched(DELETE_WITH_GRACE)) return removeEverything('teardown', teardownSteps, input, { status: 'deleted' });
  return deleteWithGrace(input);
}

/**
 * A delete that can be taken back: the app stops serving at once, a final backup is taken, and
 * the purge waits `graceSeconds` on a durable timer. An undelete (update) before the purge starts
 * the app again as it was; a failure before the purge (the final backup could not be stored) undoes
 * the stop, so no instance is ever purged without its final backup.
 */
async function deleteWithGrace(input: TeardownInput): Promise<OperationResult> {
  const { slug, instanceId } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const graceSeconds = input.graceSeconds ?? 0;
  let undeletedBy: string | undefined;
  let purging = false;
  setHandler(
    undeleteUpdate,
    (actor: string) => {
      undeletedBy = actor;
    },
    {
      validator: (_actor: string) => {
        if (purging) throw new Error(`instance ${slug} is being purged; it can no longer be undeleted`);
        if (undeletedBy !== undefined) throw new Error(`instance ${slug} is already being undeleted (by ${undeletedBy})`);
      },
    },
  );
  const { run, wait } = await openRunbook('teardown', deleteSteps, input);
  const waitForApp = (version?: string) =>
    wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, ...(version ? { version } : {}) });
  let replicasBefore = 0;
  let hadWorkload = false;
  try {
    const workload = await run.step(
      'stop serving',
      async () => {
        const found = await quick.readWorkload(slug);
        replicasBefore = found?.replicas ?? 0;
        hadWorkload = found !== null;
        if (found) await quick.scaleWorkload(slug, 0);
        return found;
      },
      // An instance without a workload (a provision that failed) had nothing to stop.
      async () => {
        if (hadWorkload) await quick.scaleWorkload(slug, replicasBefore);
      },
    );
    if (workload) await run.step('wait for app to stop', () => waitForApp());
    await finalBackup(run, input);
    if (graceSeconds > 0 && undeletedBy === undefined) {
      const purgeAt = new Date(new Date().getTime() + graceSeconds * 1000).toISOString(); // workflow time
      await quick.setPurgeAt(instanceId, purgeAt);
      await closing.recordEvent({
        instanceId,
        operationId: input.operationId,
        actor: input.actor,
        action: 'teardown',
        outcome: 'grace',
        message: `stopped serving, final backup taken; purges at ${purgeAt} unless undeleted`,
      });
      await run.step('wait out the grace period', () => condition(() => undeletedBy !== undefined, graceSeconds * 1000));
    }
    if (undeletedBy !== undefined) {
      await run.step('start app again', () => quick.scaleWorkload(slug, replicasBefore));
      if (workload) await run.step('wait for app to serve', () => waitForApp(workload.version));
    }
  } catch (err) {
    return failOperation(input, run, err, input.fromStatus);
  }
  if (undeletedBy !== undefined) return undelete(input, run, undeletedBy);

  purging = true;
  try {
    await purge(run, input, wait);
    await run.step('keep final backup for its retention', () => quick.keepFinalBackups(instanceId));
  } catch (err) {
    return failOperation(input, run, err, 'failed');
  }
  await closing.recordEvent({ instanceId, operationId: input.operationId, actor: input.actor, action: 'teardown', outcome: 'purged' });
  return recordOutcome(input, run, { status: 'succeeded', steps: run.snapshot }, { status: 'deleted' }, 'purged; its final backup is kept');
}

/** The final backup; an instance with no database (a provision that never made one) has nothing to back up. */
async function finalBackup(run: Runbook, input: TeardownInput): Promise<void> {
  try {
    await takeBackup(run, input, 'final', { begin: 'begin final backup', upload: 'take final backup' });
  } catch (err) {
    const failure = err instanceof ActivityFailure ? err.cause : err;
    if (!(failure instanceof ApplicationFailure && failure.type === 'BackupSourceMissing')) throw err;
  }
}

async function undelete(input: TeardownInput, run: Runbook, actor: string): Promise<OperationResult> {
  await quick.setPurgeAt(input.instanceId, null);
  await closing.recordEvent({ instanceId: input.instanceId, operationId: input.operationId, actor, action: 'undelete', outcome: 'succeeded' });
  return recordOutcome(
    input,
    run,
    { status: 'rolled_back', steps: run.snapshot, error: `undeleted by ${actor}` },
    { status: input.fromStatus },
    `undeleted by ${actor}: back to ${input.fromStatus} with its data`,
  );
}

async function purge(run: Runbook, { slug }: TeardownInput, wait: { deleteDnsRecord(slug: string): Promise<void>; deleteNamespace(slug: string): Promise<void> }): Promise<void> {
  await run.step('delete ingress', () => quick.deleteIngress(slug));
  await run.step('delete certificate', () => quick.deleteCertificate(slug));
  await run.step('delete DNS record', () => wait.deleteDnsRecord(slug));
  await run.step('delete namespace', () => wait.deleteNamespace(slug));
  await run.step('drop database', () => quick.dropTenantDatabase(slug));
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
  const { run, wait } = await openRunbook(kind, stepNames, input);
  try {
    await purge(run, input, wait);
  } catch (err) {
    return failOperation(input, run, err, 'failed');
  }
  return recordOutcome(input, run, { status: 'succeeded', steps: run.snapshot }, after, message);
}
