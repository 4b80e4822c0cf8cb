// Everything an instance is inside Kubernetes. Writes are server-side apply with one fixed field
// manager and force (Shipyard is the authority on these fields); deletes treat not-found as done;
// nothing without Shipyard's ownership labels is ever changed or deleted.
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import {
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1Deployment,
  type V1Namespace,
  type V1Pod,
  type V1ResourceQuota,
  type V1Secret,
} from '@kubernetes/client-node';
import { databaseNameFor, databaseRoleFor, instanceLabel, managedByLabel, managedByValue, namespaceFor } from '../domain/instance';
import type { ActivityDeps } from './index';
import { errorTypes, isKubeNotFound, kubeError, notOwned, permanent } from './errors';
import {
  appSecretManifest,
  appSelector,
  certificateManifest,
  ingressManifest,
  names,
  namespaceManifests,
  tenantDatabaseUrl,
  versionOfImage,
  workloadManifests,
  type WorkloadSpec,
} from './manifests';
import { setTenantRolePassword } from './tenant-database';

export const fieldManager = 'shipyard';

export interface KubernetesActivityOptions {
  /** Pause between polls while waiting for a condition. */
  pollIntervalMs?: number;
}

interface Ref {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

const refOf = (obj: KubernetesObject): Ref => ({
  apiVersion: obj.apiVersion!,
  kind: obj.kind!,
  name: obj.metadata!.name!,
  namespace: obj.metadata?.namespace,
});

const describe = (ref: Ref): string => `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;

const header = (ref: Ref) => ({
  apiVersion: ref.apiVersion,
  kind: ref.kind,
  metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
});

const inNamespace = (slug: string, apiVersion: string, kind: string, name: string): Ref => ({
  apiVersion,
  kind,
  name,
  namespace: namespaceFor(slug),
});

const refs = {
  namespace: (slug: string): Ref => ({ apiVersion: 'v1', kind: 'Namespace', name: namespaceFor(slug) }),
  deployment: (slug: string) => inNamespace(slug, 'apps/v1', 'Deployment', names.app),
  service: (slug: string) => inNamespace(slug, 'v1', 'Service', names.app),
  appSecret: (slug: string) => inNamespace(slug, 'v1', 'Secret', names.appSecret),
  tlsSecret: (slug: string) => inNamespace(slug, 'v1', 'Secret', names.tlsSecret),
  certificate: (slug: string) => inNamespace(slug, 'cert-manager.io/v1', 'Certificate', names.certificate),
  ingress: (slug: string) => inNamespace(slug, 'networking.k8s.io/v1', 'Ingress', names.app),
  quota: (slug: string) => inNamespace(slug, 'v1', 'ResourceQuota', names.quota),
};

/** Ours = labelled managed-by Shipyard and for this very instance. */
function ownership(obj: KubernetesObject, slug: string): string | undefined {
  const labels = obj.metadata?.labels ?? {};
  if (labels[managedByLabel] !== managedByValue) return `it has no ${managedByLabel}=${managedByValue} label`;
  if (labels[instanceLabel] !== slug) return `its ${instanceLabel} label is "${labels[instanceLabel] ?? ''}", not "${slug}"`;
  return undefined;
}

export interface WorkloadState {
  version: string;
  replicas: number;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

interface RolloutHeartbeat {
  deadlineMs: number;
  progress?: string;
}

const b64decode = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

export function createKubernetesActivities(
  { config, kube, tenantDb }: Pick<ActivityDeps, 'config' | 'kube' | 'tenantDb'>,
  options: KubernetesActivityOptions = {},
) {
  const objects = KubernetesObjectApi.makeApiClient(kube);
  const core = kube.makeApiClient(CoreV1Api);
  const pollIntervalMs = options.pollIntervalMs ?? 2000;

  async function read<T extends KubernetesObject>(ref: Ref): Promise<T | undefined> {
    try {
      return (await objects.read<T>(header(ref) as never)) as T;
    } catch (err) {
      if (isKubeNotFound(err)) return undefined;
      throw kubeError(`read ${describe(ref)}`, err);
    }
  }

  async function readOwned<T extends KubernetesObject>(slug: string, ref: Ref): Promise<T | undefined> {
    const obj = await read<T>(ref);
    if (obj) {
      const problem = ownership(obj, slug);
      if (problem) throw notOwned(describe(ref), problem);
    }
    return obj;
  }

  async function apply<T extends KubernetesObject>(slug: string, desired: KubernetesObject): Promise<T> {
    const ref = refOf(desired);
    // Server-side apply with force would silently adopt a foreign object; look first.
    await readOwned(slug, ref);
    try {
      return (await objects.patch(desired, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply)) as T;
    } catch (err) {
      throw kubeError(`apply ${describe(ref)}`, err);
    }
  }

  /** Deletes one object if it exists and is ours; returns whether there was anything to delete. */
  async function remove(slug: string, ref: Ref, isOurs = (obj: KubernetesObject) => ownership(obj, slug)): Promise<boolean> {
    const existing = await read(ref);
    if (!existing) return false;
    const problem = isOurs(existing);
    if (problem) throw notOwned(describe(ref), problem);
    // Already on its way out (e.g. a retry after a crash): deleting again would only earn a 409.
    if (existing.metadata?.deletionTimestamp) return true;
    try {
      await objects.delete(header(ref), undefined, undefined, undefined, undefined, 'Background');
    } catch (err) {
      if (isKubeNotFound(err)) return false;
      throw kubeError(`delete ${describe(ref)}`, err);
    }
    return true;
  }

  /** Objects inside the namespace may only be written once the namespace is ours and alive. */
  async function requireNamespace(slug: string): Promise<void> {
    const ref = refs.namespace(slug);
    const ns = await readOwned<V1Namespace>(slug, ref);
    if (!ns) {
      throw permanent(`${describe(ref)} does not exist; applyNamespace must run first`, errorTypes.missingDependency);
    }
    if (ns.metadata?.deletionTimestamp) {
      // A teardown is still emptying it; writing now would be refused, later it may be recreated.
      throw new Error(`${describe(ref)} is being deleted; cannot write into it until it is gone`);
    }
  }

  async function readDeploymentOrFail(slug: string): Promise<V1Deployment> {
    const ref = refs.deployment(slug);
    const deployment = await readOwned<V1Deployment>(slug, ref);
    if (!deployment) throw permanent(`${describe(ref)} does not exist; applyWorkload must run first`, errorTypes.missingDependency);
    return deployment;
  }

  async function listAppPods(slug: string): Promise<V1Pod[]> {
    const labelSelector = Object.entries(appSelector(slug))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    try {
      return (await core.listNamespacedPod({ namespace: namespaceFor(slug), labelSelector })).items;
    } catch (err) {
      throw kubeError(`list pods of ${namespaceFor(slug)}`, err);
    }
  }

  const sleep = () => Context.current().sleep(pollIntervalMs);

  return {
    /** Namespace `tenant-<slug>` with the plan's ResourceQuota and LimitRange and a default-deny NetworkPolicy. */
    async applyNamespace(slug: string, plan: WorkloadSpec['plan']): Promise<void> {
      const [namespace, ...inside] = namespaceManifests(slug, plan, config);
      const applied = await apply<V1Namespace>(slug, namespace!);
      if (applied.metadata?.deletionTimestamp) {
        throw new Error(`${describe(refOf(namespace!))} is still being deleted by an earlier teardown; it can be recreated once it is gone`);
      }
      for (const obj of inside) await apply(slug, obj);
    },

    /** Deletes the namespace (and so everything in it) and waits until it is really gone. */
    async deleteNamespace(slug: string): Promise<void> {
      const ref = refs.namespace(slug);
      if (!(await remove(slug, ref))) return;
      const ctx = Context.current();
      for (;;) {
        const ns = await read<V1Namespace>(ref);
        if (!ns) return;
        // Why it is still there (content or finalizers remaining), for whoever looks at the workflow.
        const waitingOn = (ns.status?.conditions ?? [])
          .filter((c) => c.status === 'True')
          .map((c) => `${c.type}: ${c.message ?? c.reason ?? ''}`);
        ctx.heartbeat({ waitingFor: `${describe(ref)} to disappear`, conditions: waitingOn });
        await sleep();
      }
    },

    /**
     * Secret `app-env` with DATABASE_URL and APP_SECRET. Generated here and never returned; an
     * existing Secret's values are kept so a retry does not rotate them, and the role's password
     * in Postgres is always set to the Secret's so the two agree.
     */
    async writeAppSecret(slug: string): Promise<void> {
      await requireNamespace(slug);
      const existing = await readOwned<V1Secret>(slug, refs.appSecret(slug));
      let password: string | undefined;
      const existingUrl = b64decode(existing?.data?.DATABASE_URL);
      if (existingUrl) {
        try {
          password = decodeURIComponent(new URL(existingUrl).password) || undefined;
        } catch {
          password = undefined; // unreadable: replace it, Postgres is updated to match below
        }
      }
      password ??= randomBytes(24).toString('base64url');
      const appSecret = b64decode(existing?.data?.APP_SECRET) || randomBytes(32).toString('base64url');
      const databaseUrl = tenantDatabaseUrl(config.tenantDatabaseUrl, databaseNameFor(slug), databaseRoleFor(slug), password);
      await apply(slug, appSecretManifest(slug, { databaseUrl, appSecret }));
      await setTenantRolePassword(tenantDb, slug, password);
    },

    async deleteAppSecret(slug: string): Promise<void> {
      await remove(slug, refs.appSecret(slug));
    },

    /** Deployment `app` running `<appImage>:<version>` and Service `app` in front of it. */
    async applyWorkload(slug: string, spec: WorkloadSpec): Promise<void> {
      const manifests = workloadManifests(slug, spec, config);
      await requireNamespace(slug);
      for (const obj of manifests) await apply(slug, obj);
    },

    async deleteWorkload(slug: string): Promise<void> {
      await remove(slug, refs.deployment(slug));
      await remove(slug, refs.service(slug));
    },

    /** What runs now (for rolling an upgrade back), or null when there is no workload. */
    async readWorkload(slug: string): Promise<WorkloadState | null> {
      const ref = refs.deployment(slug);
      const deployment = await readOwned<V1Deployment>(slug, ref);
      if (!deployment) return null;
      const image = deployment.spec?.template.spec?.containers.find((c) => c.name === names.app)?.image;
      const version = image ? versionOfImage(image) : undefined;
      if (!version) {
        throw permanent(`${describe(ref)} runs image "${image ?? '(none)'}", which has no version tag`, errorTypes.invalidSpec);
      }
      return { version, replicas: deployment.spec?.replicas ?? 1 };
    },

    /** Changes only the replica count (suspend = 0, resume = n); the rest of the Deployment stays as applied. */
    async scaleWorkload(slug: string, replicas: number): Promise<void> {
      if (!Number.isInteger(replicas) || replicas < 0) {
        throw permanent(`cannot scale to ${replicas} replicas`, errorTypes.invalidSpec);
      }
      const ref = refs.deployment(slug);
      await readDeploymentOrFail(slug);
      const quota = await read<V1ResourceQuota>(refs.quota(slug));
      const podLimit = quota?.spec?.hard?.pods;
      if (podLimit !== undefined && replicas > Number(podLimit)) {
        throw permanent(`cannot scale ${describe(ref)} to ${replicas} replicas: the plan's quota allows ${podLimit} pods`, errorTypes.invalidSpec);
      }
      // A merge patch, not an apply: applying just `replicas` under our field manager would
      // release (and so delete) every other field we applied earlier.
      const patch = { ...header(ref), spec: { replicas } };
      try {
        await objects.patch(patch, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch);
      } catch (err) {
        throw kubeError(`scale ${describe(ref)} to ${replicas}`, err);
      }
    },

    /**
     * Waits until the Deployment's newest generation is fully rolled out: every desired replica
     * updated and available, no old pods left (for 0 replicas: no pods at all). The deadline is
     * kept in heartbeat details, so a retry after a worker crash keeps the original clock.
     */
    async waitForRollout(slug: string, { timeoutSeconds }: { timeoutSeconds: number; unschedulableGraceSeconds?: number; version?: string }): Promise<void> {
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as Partial<RolloutHeartbeat> | undefined;
      const deadlineMs =
        typeof previous?.deadlineMs === 'number' ? previous.deadlineMs : Date.now() + timeoutSeconds * 1000;
      const ref = refs.deployment(slug);
      for (;;) {
        const deployment = await readDeploymentOrFail(slug);
        const desired = deployment.spec?.replicas ?? 1;
        const status = deployment.status ?? {};
        const observed = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
        const updated = status.updatedReplicas ?? 0;
        const available = status.availableReplicas ?? 0;
        const total = status.replicas ?? 0;
        let done = observed && updated === desired && available === desired && total === desired;
        let pods: V1Pod[] | undefined;
        if (done && desired === 0) {
          // Terminating pods no longer count in status.replicas; "suspended" means none are left.
          pods = await listAppPods(slug);
          done = pods.length === 0;
        }
        if (done) return;

        const image = deployment.spec?.template.spec?.containers[0]?.image ?? '(unknown image)';
        const progress = observed
          ? `${updated}/${desired} replicas updated, ${available}/${desired} available, ${total} pods in total`
          : `controller has not yet observed generation ${deployment.metadata?.generation}`;
        if (Date.now() >= deadlineMs) {
          pods ??= await listAppPods(slug);
          const failing = (deployment.status?.conditions ?? [])
            .filter((c) => c.status !== 'True')
            .map((c) => `${c.type}=${c.status} (${c.reason ?? ''}: ${c.message ?? ''})`);
          throw permanent(
            `rollout of ${image} in ${describe(ref)} did not finish within ${timeoutSeconds}s: ${progress}` +
              `${describePods(pods)}${failing.length ? `; conditions: ${failing.join('; ')}` : ''}`,
            errorTypes.rolloutTimeout,
          );
        }
        ctx.heartbeat({ deadlineMs, progress } satisfies RolloutHeartbeat);
        await sleep();
      }
    },

    /** cert-manager Certificate for `<slug>.<baseDomain>`, stored in Secret `app-tls`. */
    async applyCertificate(slug: string): Promise<void> {
      await requireNamespace(slug);
      await apply(slug, certificateManifest(slug, config));
    },

    /** Waits for the Certificate's Ready condition; the overall bound is the activity's own timeout. */
    async waitForCertificateReady(slug: string): Promise<void> {
      const ctx = Context.current();
      const ref = refs.certificate(slug);
      for (;;) {
        const cert = await readOwned<KubernetesObject & { status?: { conditions?: Condition[] } }>(slug, ref);
        if (!cert) throw permanent(`${describe(ref)} does not exist; applyCertificate must run first`, errorTypes.missingDependency);
        const ready = cert.status?.conditions?.find((c) => c.type === 'Ready');
        const current = ready?.observedGeneration === undefined || ready.observedGeneration >= (cert.metadata?.generation ?? 0);
        if (ready?.status === 'True' && current) return;
        ctx.heartbeat({ waitingFor: `${describe(ref)} to become Ready`, ready: ready ? `${ready.status} ${ready.reason ?? ''}: ${ready.message ?? ''}` : 'no Ready condition yet' });
        await sleep();
      }
    },

    /** Deletes the Certificate and the TLS Secret cert-manager made for it. */
    async deleteCertificate(slug: string): Promise<void> {
      await remove(slug, refs.certificate(slug));
      // cert-manager labels the Secret from the Certificate's secretTemplate; a Secret issued
      // before that label was applied is still recognisable by cert-manager's own annotation.
      await remove(slug, refs.tlsSecret(slug), (secret) => {
        const byLabel = ownership(secret, slug);
        const byAnnotation = secret.metadata?.annotations?.['cert-manager.io/certificate-name'] === names.certificate;
        return byLabel && !byAnnotation ? byLabel : undefined;
      });
    },

    /** Ingress `app` for `<slug>.<baseDomain>`, TLS from Secret `app-tls`, routing to Service `app`. */
    async applyIngress(slug: string): Promise<void> {
      await requireNamespace(slug);
      await apply(slug, ingressManifest(slug, config));
    },

    async deleteIngress(slug: string): Promise<void> {
      await remove(slug, refs.ingress(slug));
    },
  };
}

/** A short account of the app's pods that are not ready, for the timeout message. */
function describePods(pods: V1Pod[]): string {
  const notReady = pods.filter((p) => !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  if (notReady.length === 0) return '';
  const shown = notReady.slice(0, 3).map((p) => {
    const waiting = p.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
    const state = waiting ? `${waiting.reason ?? 'waiting'}${waiting.message ? ` (${waiting.message})` : ''}` : `${p.status?.phase ?? 'Pending'}, not ready`;
    return `${p.metadata?.name}: ${state}`;
  });
  const more = notReady.length > shown.length ? ` and ${notReady.length - shown.length} more` : '';
  return `; pods not ready: ${shown.join(', ')}${more}`;
}
