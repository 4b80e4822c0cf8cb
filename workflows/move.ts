import { CancellationScope } from '@temporalio/workflow';
import type { OperationResult } from '../domain/operations';
import type { MoveInput } from '../domain/operation-kinds';
import { onCluster, quick, transfer } from './activities';
import { takeBackup } from './backup';
import { failOperation, openRunbook, recordOutcome } from './outcome';
import { describeError } from './runbook';

/** What every move does first: whether the target cluster's worker reaches the instance's very database decides the rest. */
export const moveSteps = ['check instance', 'compare tenant databases'] as const;

const backupSteps = ['begin pre-move backup', 'take pre-move backup'] as const;

const buildSteps = [
  'deploy app in target',
  'request certificate in target',
  'wait for certificate in target',
  'create ingress in target',
  'wait for rollout in target',
  'switch DNS to target',
  'delete ingress in source',
  'delete certificate in source',
  'delete namespace in source',
] as const;

/** Both clusters reach one tenant Postgres: the data stays; the target's app gets a login of its own. */
export const moveWithinDatabaseSteps = [
  ...backupSteps,
  'create namespace in target',
  'write secrets in target',
  'restore configuration in target',
  ...buildSteps,
  "disable source's database login",
] as const;

/** Each cluster has its own tenant Postgres: the data moves by the backup, taken once the source has stopped writing. */
export const moveWithDataSteps = [
  'stop app in source',
  'wait for app in source to stop',
  ...backupSteps,
  'create database in target',
  'restore data in target',
  'put restored data in place',
  'drop empty database in target',
  'create namespace in target',
  'restore configuration in target',
  ...buildSteps,
  'drop database in source',
] as const;

/**
 * Moves an instance from the cluster it is placed in (`placement`, the run's cluster queue) to
 * `target`: a `pre-move` backup, the app built in the target, the DNS name switched to the target's
 * ingress, then everything in the source removed. Until the switch the source serves (within one
 * tenant Postgres, without a pause; with a database per cluster, stopped from the backup on, so no
 * write is lost), and any failure or cancel removes what was built in the target and starts the
 * source again: the instance is as it was. After the switch the target serves and the source goes;
 * a failure to remove part of it is reported, never undone.
 */
export async function moveInstance(input: MoveInput): Promise<OperationResult> {
  const { slug, instanceId, operationId, plan, version, placement: source, target } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const tlsMode = input.settings.tlsMode ?? 'per-instance';
  const { run, wait } = await openRunbook('move', [...moveSteps, ...moveWithinDatabaseSteps], input);
  /** In the target cluster: its worker, on its queue. Everything else runs in the source's. */
  const there = <T>(start: () => T): T => onCluster(target, start);
  const side = { slug, operationId };
  /** Within one tenant Postgres: the login the source's app uses, and the one the target's gets. */
  let logins: { current: string; next: string } | undefined;
  try {
    // A mark only the instance's own database carries: seen from the target's worker, it is the same database.
    const mark = `shipyard-move:${operationId}`;
    logins = await run.step('compare tenant databases', async () => {
      await quick.markTenantDatabase(slug, mark);
      if ((await there(() => quick.readTenantDatabaseMark(slug))) !== mark) return undefined;
      const { current, next } = await quick.readDatabaseLogin(slug);
      return { current, next };
    });
    const shared = logins !== undefined;
    run.continueWith(shared ? moveWithinDatabaseSteps : moveWithDataSteps);

    if (!shared) {
      // Nothing may be written after the backup: it is all the target will have.
      await run.step(
        'stop app in source',
        () => quick.scaleWorkload(slug, 0),
        () => quick.scaleWorkload(slug, plan.replicas),
      );
      await run.step('wait for app in source to stop', () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds }));
    }
    const backupId = await takeBackup(run, input, 'pre-move', { begin: 'begin pre-move backup', upload: 'take pre-move backup' });

    if (!shared) {
      await run.step(
        'create database in target',
        () => there(() => quick.ensureTenantDatabase(slug, { connectionLimit: plan.dbConnections })),
        () => there(() => quick.dropTenantDatabase(slug)),
      );
      await run.step(
        'restore data in target',
        () => there(() => transfer.restoreIntoSideDatabase({ backupId, slug, operationId })),
        () => there(() => quick.dropSideDatabases(side)),
      );
      await run.step('put restored data in place', () => there(() => quick.swapInRestoredDatabase(side)));
      await run.step('drop empty database in target', () => there(() => quick.dropSideDatabases(side)));
    }
    await run.step(
      'create namespace in target',
      () => there(() => quick.applyNamespace(slug, plan)),
      () => there(() => wait.deleteNamespace(slug)),
    );
    if (logins) {
      const { next } = logins;
      await run.step(
        'write secrets in target',
        () => there(() => quick.writeStandbyLogin(slug, { role: next, connectionLimit: plan.dbConnections })),
        // From the source, whose app logs in as the other role: the target's login is of no use any more.
        () => quick.disableDatabaseLogin(slug, next),
      );
    }
    // The app secret the instance has, from the backup just taken.
    await run.step('restore configuration in target', () => there(() => quick.restoreConfiguration({ backupId, slug })));
    await run.step(
      'deploy app in target',
      () => there(() => quick.applyWorkload(slug, { plan, version, replicas: plan.replicas })),
      () => there(() => quick.deleteWorkload(slug)),
    );
    if (tlsMode === 'wildcard') {
      // The target's own copy of the shared certificate: kept, as its other instances serve it.
      await run.step('request certificate in target', () => there(() => quick.applyWildcardCertificate()));
      await run.step('wait for certificate in target', () => there(() => wait.waitForWildcardCertificateReady()));
    } else {
      await run.step(
        'request certificate in target',
        () => there(() => quick.applyCertificate(slug)),
        () => there(() => quick.deleteCertificate(slug)),
      );
      await run.step('wait for certificate in target', () => there(() => wait.waitForCertificateReady(slug)));
    }
    await run.step(
      'create ingress in target',
      () => there(() => quick.applyIngress(slug, tlsMode)),
      () => there(() => quick.deleteIngress(slug)),
    );
    await run.step('wait for rollout in target', () =>
      there(() => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, version })),
    );
    // The name and the catalogue switch together; undone together, the source serves again.
    await CancellationScope.nonCancellable(() =>
      run.step(
        'switch DNS to target',
        async () => {
          await wait.upsertDnsRecord(slug, target.ingressTarget);
          await quick.placeInstance(instanceId, target.cluster);
        },
        async () => {
          await quick.placeInstance(instanceId, source.cluster);
          await wait.upsertDnsRecord(slug, source.ingressTarget);
        },
      ),
    );
  } catch (err) {
    return failOperation(input, run, err, input.fromStatus);
  }

  // The target serves: the point of no return. What is left in the source goes, whatever a cancel says.
  const leftovers = await CancellationScope.nonCancellable(async () => {
    try {
      await run.step('delete ingress in source', () => quick.deleteIngress(slug));
      await run.step('delete certificate in source', () => (tlsMode === 'wildcard' ? Promise.resolve() : quick.deleteCertificate(slug)));
      await run.step('delete namespace in source', () => wait.deleteNamespace(slug));
      if (logins) {
        const { current } = logins;
        // From the target, whose app logs in as the other role.
        await run.step("disable source's database login", () => there(() => quick.disableDatabaseLogin(slug, current)));
      } else {
        await run.step('drop database in source', () => quick.dropTenantDatabase(slug));
      }
      return undefined;
    } catch (err) {
      return describeError(err);
    }
  });
  return recordOutcome(
    input,
    run,
    { status: 'succeeded', steps: run.snapshot },
    undefined,
    leftovers === undefined
      ? `moved from cluster ${source.cluster} to cluster ${target.cluster}`
      : `moved from cluster ${source.cluster} to cluster ${target.cluster}, which serves it; removing it from ${source.cluster} failed (remove it by hand): ${leftovers}`,
  );
}
