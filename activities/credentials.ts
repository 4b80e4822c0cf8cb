// Credential rotation (workflows/rotate-credentials.ts): a new database password and a new
// APP_SECRET for an instance, without a moment at which the app holds credentials that do not work.
//
// Postgres keeps one password per role, so the app alternates between two login roles
// (tenant-database.ts loginRolesFor): the standby one is given a new password and written into the
// Secret with a new APP_SECRET, the app restarts on them, and only once it has rolled out is the
// previous login disabled. Until then the Secret as it was is kept in Secret `app-env-previous`
// (which no pod reads), so a rollout that fails puts it back. Passwords and app secrets are made
// here and go only into Secrets and, as SCRAM verifiers, into Postgres: no activity here takes or
// returns one, so none reaches a workflow's arguments, results, errors or history.
import { randomBytes } from 'node:crypto';
import { PatchStrategy, type V1Deployment, type V1Secret } from '@kubernetes/client-node';
import { catalogueNow } from '../db/backups';
import { credentialRotationActor, instancesDueForRotation, markCredentialsRotated } from '../db/credentials';
import { databaseNameFor, databaseRoleFor } from '../domain/instance';
import { databaseLoginOf } from './app-secret';
import type { ActivityDeps } from './deps';
import { operationForSweep, type SweepOutcome } from './sweep-operations';
import { errorTypes, kubeError, permanent } from './errors';
import { describe, fieldManager, header, kubeObjects, refs, type Ref } from './kube-objects';
import { appSecretManifest, tenantDatabaseUrl } from './manifests';
import { disableLogin, enableLoginRole, loginRolesFor } from './tenant-database';

/** The pod-template annotation a rotation changes to restart the app (the operation's id). */
export const credentialsAnnotation = 'shipyard.dev/credentials';

/** Where the Secret as it was before a rotation waits until the rotation has ended. */
export const previousAppSecretName = 'app-env-previous';

const previousSecretRef = (slug: string): Ref => ({ ...refs.appSecret(slug), name: previousAppSecretName });

/** Which login the app uses now, which one a rotation moves it to, and the restart mark its pods were started under. */
export interface DatabaseLogin {
  /** The role the Secret's DATABASE_URL logs in as: the owner role (before the first rotation) or a login role. */
  current: string;
  /** The login role a rotation moves the app to: the one not in use. */
  next: string;
  /** The pod template's credentialsAnnotation (null: none): a rollback restores it. */
  restartMark: string | null;
}

export type RotationSweepOutcome = SweepOutcome;


export function createCredentialActivities(deps: ActivityDeps) {
  const { config, kube, tenantDb: sql, db } = deps;
  const kubeObjectsOf = kubeObjects(kube);
  const { objects, readOwned, apply, remove, requireNamespace } = kubeObjectsOf;

  async function loginIn(slug: string, ref: Ref): Promise<{ secret: V1Secret; role: string; password: string } | undefined> {
    const secret = await readOwned<V1Secret>(slug, ref);
    const login = databaseLoginOf(secret);
    return secret && login ? { secret, ...login } : undefined;
  }

  async function currentLogin(slug: string) {
    const found = await loginIn(slug, refs.appSecret(slug));
    if (!found) throw permanent(`${describe(refs.appSecret(slug))} has no readable DATABASE_URL: there is nothing to rotate`, errorTypes.missingDependency);
    return found;
  }

  /** Secret `name` of `slug` holding what `from` holds, under Shipyard's labels. */
  const copyOf = (slug: string, from: V1Secret, name: string): V1Secret => {
    const base = appSecretManifest(slug, { databaseUrl: '', appSecret: '' });
    return { ...base, metadata: { ...base.metadata, name }, data: { ...from.data } };
  };

  return {
    /** Which login the app uses (from its Secret) and which one a rotation moves it to. */
    async readDatabaseLogin(slug: string): Promise<DatabaseLogin> {
      const { role } = await currentLogin(slug);
      const [a, b] = loginRolesFor(slug);
      if (role !== databaseRoleFor(slug) && role !== a && role !== b) {
        throw permanent(`${describe(refs.appSecret(slug))} logs in as ${role}, which is not a role of instance ${slug}`, errorTypes.notOwned);
      }
      const deployment = await readOwned<V1Deployment>(slug, refs.deployment(slug));
      if (!deployment) throw permanent(`${describe(refs.deployment(slug))} does not exist: there is no app to restart`, errorTypes.missingDependency);
      const mark = deployment.spec?.template.metadata?.annotations?.[credentialsAnnotation];
      return { current: role, next: role === a ? b : a, restartMark: mark ?? null };
    },

    /**
     * Keeps the Secret as it is in `app-env-previous`, lets login role `to` log in with a new
     * password, and writes the Secret with it and a new APP_SECRET. The app's running pods keep
     * the credentials they started with, which still work. A retry after the Secret was written
     * makes Postgres agree with it and changes nothing else.
     */
    async writeRotatedCredentials(slug: string, change: { from: string; to: string; connectionLimit: number }): Promise<void> {
      const { from, to, connectionLimit } = change;
      await requireNamespace(slug);
      const current = await currentLogin(slug);
      if (current.role === to) {
        const previous = await loginIn(slug, previousSecretRef(slug));
        if (previous?.role !== from) {
          throw permanent(`${describe(refs.appSecret(slug))} already logs in as ${to}, but not through this rotation from ${from}`, errorTypes.workloadChanged);
        }
        await enableLoginRole(sql, slug, to, current.password, connectionLimit);
        return;
      }
      if (current.role !== from) {
        throw permanent(`${describe(refs.appSecret(slug))} logs in as ${current.role}, not ${from}: it was changed outside this rotation`, errorTypes.workloadChanged);
      }
      await apply(slug, copyOf(slug, current.secret, previousAppSecretName));
      const password = randomBytes(24).toString('base64url');
      const appSecret = randomBytes(32).toString('base64url');
      await enableLoginRole(sql, slug, to, password, connectionLimit);
      const databaseUrl = tenantDatabaseUrl(config.tenantDatabaseUrl, databaseNameFor(slug), to, password);
      await apply(slug, appSecretManifest(slug, { databaseUrl, appSecret }));
    },

    /**
     * Sets the pod template's credentialsAnnotation to `mark` (null removes it): a rolling restart
     * when it changes, nothing when it is already so. A merge patch, so a later apply of the
     * workload (which does not name the annotation) keeps it.
     */
    async restartAppForCredentials(slug: string, mark: string | null): Promise<void> {
      const ref = refs.deployment(slug);
      const deployment = await readOwned<V1Deployment>(slug, ref);
      if (!deployment) throw permanent(`${describe(ref)} does not exist: there is no app to restart`, errorTypes.missingDependency);
      if ((deployment.spec?.template.metadata?.annotations?.[credentialsAnnotation] ?? null) === mark) return;
      const patch = { ...header(ref), spec: { template: { metadata: { annotations: { [credentialsAnnotation]: mark } } } } };
      try {
        await objects.patch(patch, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch);
      } catch (err) {
        throw kubeError(`restart ${describe(ref)}`, err);
      }
    },

    /**
     * Puts the Secret kept in `app-env-previous` back (it logs in as `from`, whose password never
     * changed) and removes the copy. With no copy kept, the Secret must still log in as `from`.
     */
    async restorePreviousCredentials(slug: string, change: { from: string; to: string }): Promise<void> {
      const { from } = change;
      const previous = await loginIn(slug, previousSecretRef(slug));
      if (previous) {
        if (previous.role !== from) {
          throw permanent(`${describe(previousSecretRef(slug))} logs in as ${previous.role}, not ${from}: it is not this rotation's`, errorTypes.workloadChanged);
        }
        await apply(slug, copyOf(slug, previous.secret, refs.appSecret(slug).name));
        await remove(slug, previousSecretRef(slug));
        return;
      }
      const current = await loginIn(slug, refs.appSecret(slug));
      if (current?.role !== from) {
        throw permanent(
          `cannot put the credentials of ${from} back into ${describe(refs.appSecret(slug))}: no copy of them was kept (it logs in as ${current?.role ?? 'nothing'})`,
          errorTypes.missingDependency,
        );
      }
    },

    /**
     * A move within one tenant Postgres (workflows/move.ts): Secret `app-env` of the app being built
     * in this cluster logs in as `role` (the login role the source's app does not use) with a new
     * password, so the source's app keeps its own login until it is gone. The Secret needs an
     * APP_SECRET to be valid: a fresh one is written here, and the move's next step ('restore
     * configuration in target', restoreConfiguration) replaces it with the instance's own from the
     * pre-move backup, keeping this login (writeAppSecret keeps a login role's login). A retry finds
     * the Secret already logging in as `role` and only enables it again.
     */
    async writeStandbyLogin(slug: string, login: { role: string; connectionLimit: number }): Promise<void> {
      const { role, connectionLimit } = login;
      if (!loginRolesFor(slug).includes(role)) throw permanent(`${role} is not a login role of instance ${slug}`, errorTypes.invalidSpec);
      await requireNamespace(slug);
      const existing = await loginIn(slug, refs.appSecret(slug));
      if (existing?.role === role) {
        await enableLoginRole(sql, slug, role, existing.password, connectionLimit);
        return;
      }
      const password = randomBytes(24).toString('base64url');
      await enableLoginRole(sql, slug, role, password, connectionLimit);
      const databaseUrl = tenantDatabaseUrl(config.tenantDatabaseUrl, databaseNameFor(slug), role, password);
      await apply(slug, appSecretManifest(slug, { databaseUrl, appSecret: randomBytes(32).toString('base64url') }));
    },

    /**
     * Stops `role` (the owner role or a login role) from logging in and ends its sessions, then
     * removes `app-env-previous`. Refused while the Secret logs in as `role`: the app needs it.
     */
    async disableDatabaseLogin(slug: string, role: string): Promise<void> {
      const current = await currentLogin(slug);
      if (current.role === role) {
        throw permanent(`${describe(refs.appSecret(slug))} logs in as ${role}: it cannot be disabled`, errorTypes.workloadChanged);
      }
      await disableLogin(sql, slug, role);
      await remove(slug, previousSecretRef(slug));
    },

    async markCredentialsRotated(instanceId: string): Promise<void> {
      if (!(await markCredentialsRotated(db, instanceId))) {
        throw permanent(`cannot record the rotation of instance ${instanceId}: it is not in the catalogue`, errorTypes.catalogueRowMissing);
      }
    },

    // ------------------------------------------------------------------------------------------
    // The `shipyard-rotate-credentials` schedule's sweep (workflows/credential-rotation-sweep.ts).

    /** The catalogue's now, when a sweep begins: the rotations it starts are those started since. */
    async rotationSweepBegins(): Promise<string> {
      return (await catalogueNow(db)).toISOString();
    },

    /** A page of the instances whose credentials are older than `olderThanDays`, in id order after `after`. */
    async instancesDueForRotation(page: { olderThanDays: number; after?: string; limit: number; plans?: string[] }): Promise<{ id: string; slug: string }[]> {
      return instancesDueForRotation(db, page);
    },

    /**
     * Rotates one instance's credentials for the sweep that began at `since` and waits for the
     * operation's end, heartbeating. Safe to retry: the rotation this sweep started (actor
     * `credential-rotation`, started since `since`) is waited on again, never started twice.
     */
    async rotateCredentialsForSweep(sweepWorkflowId: string, slug: string, since: string, olderThanDays: number): Promise<RotationSweepOutcome> {
      return operationForSweep(deps, {
        slug,
        kind: 'rotate_credentials',
        actor: credentialRotationActor,
        since: new Date(since),
        noun: 'credential rotation',
        sweepWorkflowId,
        stillDue: async (instanceId) => (await instancesDueForRotation(db, { olderThanDays, instanceId, limit: 1 })).length > 0,
      });
    },
  };
}
