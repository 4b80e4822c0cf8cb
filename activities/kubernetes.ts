// Everything an instance is inside Kubernetes. Writes are server-side apply with one fixed field
// manager and force (Shipyard is the authority on these fields); deletes treat not-found as done;
// nothing without Shipyard's ownership labels is ever changed or deleted (see kube-objects.ts).
import { Context } from '@temporalio/activity';
import { CoreV1Api, PatchStrategy, type KubernetesObject, type V1Deployment, type V1Namespace, type V1Pod, type V1ResourceQuota } from '@kubernetes/client-node';
import { namespaceFor, type WaitHeartbeat } from '../domain/instance';
import { forgetNamespaceQuota, recordNamespaceQuota } from '../db/capacity';
import type { ActivityDeps } from './deps';
import { writeAppSecret } from './app-secret';
import { promisedBy } from './capacity';
import { errorTypes, kubeError, permanent } from './errors';
import { describe, fieldManager, header, kubeObjects, ownership, refOf, refs, type Ref } from './kube-objects';
import { pollUntil } from './poll';
import {
  appSelector,
  certificateManifest,
  imageFor,
  ingressManifest,
  names,
  namespaceManifests,
  versionOfImage,
  workloadManifests,
  type TlsMode,
  type WorkloadSpec,
} from './manifests';
import { podTroubles, summariseTroubles } from './pods';
import { wildcardCertificate } from './wildcard-certificate';

export interface KubernetesActivityOptions {
  /** The longest pause between polls while waiting for a condition (they start short; see poll.ts). */
  pollIntervalMs?: number;
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

type CertificateRequest = KubernetesObject & { status?: { conditions?: Condition[] } };
type CertificateObject = KubernetesObject & { status?: { conditions?: Condition[] } };

interface RolloutHeartbeat extends WaitHeartbeat {
  deadlineMs: number;
  /** When the new pods were first seen unschedulable, in this spell (gone once they are scheduled). */
  unschedulableSinceMs?: number;
}

const conditionText = (c: Condition): string => `${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`;

/** Deployment conditions that say something is wrong: Available/Progressing not True, ReplicaFailure True (e.g. quota). */
function problemConditions(deployment: V1Deployment): string[] {
  return (deployment.status?.conditions ?? [])
    .filter((c) => (c.type === 'ReplicaFailure' ? c.status === 'True' : c.status !== 'True'))
    .map((c) => conditionText(c as Condition));
}

export function createKubernetesActivities(
  { config, kube, tenantDb, db }: Pick<ActivityDeps, 'config' | 'kube' | 'tenantDb' | 'db'>,
  options: KubernetesActivityOptions = {},
) {
  const kubeObjectsOf = kubeObjects(kube);
  const { objects, read, readOwned, apply, remove, removeRead, requireNamespace } = kubeObjectsOf;
  const core = kube.makeApiClient(CoreV1Api);
  const pollIntervalMs = options.pollIntervalMs ?? 2000;
  const wildcard = wildcardCertificate(kube, config);

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

  /** The newest CertificateRequest cert-manager made for the Certificate at `ref`. */
  async function newestCertificateRequest(ref: Ref): Promise<CertificateRequest | undefined> {
    let requests: CertificateRequest[];
    try {
      requests = (await objects.list<CertificateRequest>('cert-manager.io/v1', 'CertificateRequest', ref.namespace)).items;
    } catch (err) {
      throw kubeError(`list CertificateRequests in ${ref.namespace}`, err);
    }
    return requests
      .filter((r) => r.metadata?.annotations?.['cert-manager.io/certificate-name'] === ref.name)
      .sort((a, b) => String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')))[0];
  }

  /**
   * Waits for the Ready condition of the Certificate at `ref` (read by `readCert`, which refuses one
   * that is not Shipyard's); the overall bound is the activity's own timeout.
   */
  async function waitForCertificate(ref: Ref, readCert: () => Promise<CertificateObject | undefined>, madeBy: string): Promise<void> {
    await pollUntil(async () => {
      const cert = await readCert();
      if (!cert) throw permanent(`${describe(ref)} does not exist; ${madeBy} must run first`, errorTypes.missingDependency);
      const ready = cert.status?.conditions?.find((c) => c.type === 'Ready');
      const current = ready?.observedGeneration === undefined || ready.observedGeneration >= (cert.metadata?.generation ?? 0);
      if (ready?.status === 'True' && current) return true;
      // The Certificate says it is not ready; its newest CertificateRequest says why (an issuer
      // that is missing or not ready, a request denied or failed).
      const said = (cert.status?.conditions ?? []).filter((c) => c.status !== 'True').map(conditionText);
      const request = await newestCertificateRequest(ref);
      const requestSays = (request?.status?.conditions ?? [])
        .filter((c) => (c.type === 'Ready' && c.status !== 'True') || (c.type !== 'Ready' && c.status === 'True'))
        .map(conditionText);
      const blocking = [...(said.length ? said : ['no Ready condition yet']), ...requestSays.map((c) => `CertificateRequest ${request?.metadata?.name}: ${c}`)];
      return { detail: `waiting for ${describe(ref)} to become Ready: ${blocking.join('; ')}` };
    }, pollIntervalMs);
  }

  /** Deletes the namespace (and so everything in it) and waits until it is really gone. */
  async function deleteNamespaceAndWait(slug: string): Promise<void> {
    const ref = refs.namespace(slug);
    const namespace = await readOwned<V1Namespace>(slug, ref);
    if (!namespace) return;
    if (!namespace.metadata?.deletionTimestamp) {
      // Pods end gracefully; a namespace controller that finds them still there retries with a
      // growing backoff (seconds, then tens of seconds) long after they are gone. Stopping the
      // app first gives its pods the controller's own 5 s delay before its first pass to end in.
      // (A Deployment that is not ours is left for the namespace's deletion to take, as before.)
      const app = await read(refs.deployment(slug));
      if (app && !ownership(app, slug)) await removeRead(refs.deployment(slug), app);
    }
    if (!(await remove(slug, ref))) return;
    await pollUntil(async () => {
      const ns = await read<V1Namespace>(ref);
      if (!ns) return true;
      // What keeps it: the namespace controller's conditions (content or finalizers remaining,
      // discovery failures) and the finalizers still listed.
      const conditions = (ns.status?.conditions ?? [])
        .filter((c) => c.status === 'True')
        .map((c) => c.message ?? c.reason ?? c.type);
      const finalizers = [...(ns.spec?.finalizers ?? []), ...(ns.metadata?.finalizers ?? [])];
      const blocking = [...conditions, ...(finalizers.length ? [`finalizers left: ${finalizers.join(', ')}`] : [])];
      return { detail: `waiting for ${describe(ref)} to disappear${blocking.length ? `: ${blocking.join('; ')}` : ''}` };
    }, pollIntervalMs);
  }

  return {
    /** Namespace `tenant-<slug>` with the plan's ResourceQuota and LimitRange and a default-deny NetworkPolicy. */
    async applyNamespace(slug: string, plan: WorkloadSpec['plan'], options: { alsoRoomFor?: WorkloadSpec['plan'] } = {}): Promise<void> {
      const [namespace, quota, ...guards] = namespaceManifests(slug, plan, config, options.alsoRoomFor);
      const applied = await apply<V1Namespace>(slug, namespace);
      if (applied.metadata?.deletionTimestamp) {
        throw new Error(`${describe(refOf(namespace))} is still being deleted by an earlier teardown; it can be recreated once it is gone`);
      }
      // Admission reads the catalogue's picture of the quotas: the new one counts from now, not
      // from the next refresh.
      await recordNamespaceQuota(db, config.taskQueue, promisedBy(await apply<V1ResourceQuota>(slug, quota)));
      for (const obj of guards) await apply(slug, obj);
    },

    /** Deletes the namespace (and so everything in it) and waits until it is really gone. */
    async deleteNamespace(slug: string): Promise<void> {
      await deleteNamespaceAndWait(slug);
      // Only once it is gone (a retry may find it gone already): until then its quota holds room.
      await forgetNamespaceQuota(db, config.taskQueue, namespaceFor(slug));
    },

    /**
     * Secret `app-env` with DATABASE_URL and APP_SECRET. Generated here and never returned; an
     * existing Secret's values are kept so a retry does not rotate them, and the role's password
     * in Postgres is always set to the Secret's so the two agree.
     */
    async writeAppSecret(slug: string): Promise<void> {
      await writeAppSecret({ config, tenantDb, objects: kubeObjectsOf }, slug);
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
     * updated and available, no old pods left (for 0 replicas: no pods at all). With `version`,
     * the Deployment must still run that version's image: another one means someone changed it
     * meanwhile, and waiting would only report their rollout as ours.
     *
     * Gives up early, without waiting for the deadline, when waiting cannot help: the image cannot
     * be pulled, or the new pods have found no node for `unschedulableGraceSeconds`. The deadline
     * and the start of the unschedulable spell are kept in heartbeat details, so a retry after a
     * worker crash keeps both clocks.
     */
    async waitForRollout(
      slug: string,
      { timeoutSeconds, unschedulableGraceSeconds, version }: { timeoutSeconds: number; unschedulableGraceSeconds: number; version?: string },
    ): Promise<void> {
      const previous = Context.current().info.heartbeatDetails as Partial<RolloutHeartbeat> | undefined;
      const deadlineMs = typeof previous?.deadlineMs === 'number' ? previous.deadlineMs : Date.now() + timeoutSeconds * 1000;
      let unschedulableSinceMs = typeof previous?.unschedulableSinceMs === 'number' ? previous.unschedulableSinceMs : undefined;
      const ref = refs.deployment(slug);
      const expectedImage = version === undefined ? undefined : imageFor(config.appImage, version);
      await pollUntil<RolloutHeartbeat>(async () => {
        const deployment = await readDeploymentOrFail(slug);
        const image = deployment.spec?.template.spec?.containers.find((c) => c.name === names.app)?.image;
        if (expectedImage !== undefined && image !== expectedImage) {
          throw permanent(
            `${describe(ref)} runs image ${image ?? '(none)'}, expected ${expectedImage}; it was changed outside this operation`,
            errorTypes.workloadChanged,
          );
        }
        const desired = deployment.spec?.replicas ?? 1;
        const status = deployment.status ?? {};
        const observed = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
        const updated = status.updatedReplicas ?? 0;
        const available = status.availableReplicas ?? 0;
        const total = status.replicas ?? 0;
        // Terminating pods no longer count in status.replicas; "suspended" means none are left,
        // so with 0 replicas the pods are looked at even when the counts say done.
        const countsDone = observed && updated === desired && available === desired && total === desired;
        if (countsDone && desired > 0) return true;
        const pods = await listAppPods(slug);
        if (countsDone && pods.length === 0) return true;

        const rollout = `rollout of ${image ?? '(no image)'} in ${describe(ref)}`;
        const progress = !observed
          ? `controller has not yet observed generation ${deployment.metadata?.generation}`
          : countsDone
            ? `${pods.length} pods still stopping`
            : `${updated}/${desired} replicas updated, ${available}/${desired} available, ${total} pods in total`;
        // Old pods may linger while the new ones come up; what is in the way is the new ones' trouble.
        // "New" is the Deployment's template as it is now — image and size, since a plan change or
        // its rollback alters only the size.
        const wanted = deployment.spec?.template.spec?.containers.find((c) => c.name === names.app);
        const sameAsTemplate = (pod: V1Pod) => {
          const app = pod.spec?.containers.find((c) => c.name === names.app);
          return app?.image === image && JSON.stringify(app?.resources ?? {}) === JSON.stringify(wanted?.resources ?? {});
        };
        const troubles = podTroubles(pods.filter(sameAsTemplate));

        const pull = troubles.find((t) => t.kind === 'imagePull');
        if (pull) {
          throw permanent(`${rollout} cannot finish: the image cannot be pulled: pod ${pull.pod}: ${pull.says}`, errorTypes.imagePullFailed);
        }
        const now = Date.now();
        const unschedulable = troubles.filter((t) => t.kind === 'unschedulable');
        unschedulableSinceMs = unschedulable.length === 0 ? undefined : (unschedulableSinceMs ?? now);
        const unschedulableFor = unschedulableSinceMs === undefined ? 0 : Math.floor((now - unschedulableSinceMs) / 1000);
        if (unschedulableSinceMs !== undefined && now - unschedulableSinceMs >= unschedulableGraceSeconds * 1000) {
          throw permanent(
            `${rollout} cannot finish: its pods found no node for ${unschedulableFor}s (grace ${unschedulableGraceSeconds}s): ` +
              `${summariseTroubles(unschedulable)}; ${progress}`,
            errorTypes.unschedulable,
          );
        }
        const conditions = problemConditions(deployment);
        if (now >= deadlineMs) {
          throw permanent(
            `${rollout} did not finish within ${timeoutSeconds}s: ${progress}` +
              `${troubles.length ? `; pods not ready: ${summariseTroubles(troubles)}` : ''}` +
              `${conditions.length ? `; conditions: ${conditions.join('; ')}` : ''}`,
            errorTypes.rolloutTimeout,
          );
        }
        const unschedulableNote =
          unschedulable.length > 0 ? ` (unschedulable for ${unschedulableFor}s; giving up after ${unschedulableGraceSeconds}s)` : '';
        const detail =
          `waiting for ${rollout}: ${progress}` +
          `${troubles.length ? `; ${summariseTroubles(troubles)}${unschedulableNote}` : ''}` +
          `${conditions.length ? `; ${conditions.join('; ')}` : ''}`;
        return { deadlineMs, ...(unschedulableSinceMs !== undefined ? { unschedulableSinceMs } : {}), detail };
      }, pollIntervalMs);
    },

    /** cert-manager Certificate for `<slug>.<baseDomain>`, stored in Secret `app-tls`. */
    async applyCertificate(slug: string): Promise<void> {
      await requireNamespace(slug);
      await apply(slug, certificateManifest(slug, config));
    },

    /** Waits for the Certificate's Ready condition; the overall bound is the activity's own timeout. */
    async waitForCertificateReady(slug: string): Promise<void> {
      const ref = refs.certificate(slug);
      await waitForCertificate(ref, () => readOwned<CertificateObject>(slug, ref), 'applyCertificate');
    },

    /**
     * SHIPYARD_TLS_MODE=wildcard: the one Certificate for `*.<baseDomain>` in the ingress
     * controller's namespace (its Secret served as the controller's default certificate), created
     * or brought up to date. Shared by every instance, so nothing ever undoes it.
     */
    async applyWildcardCertificate(): Promise<void> {
      await wildcard.ensure();
    },

    /** Waits for the wildcard Certificate's Ready condition (a first issuance over DNS-01 takes a minute or two). */
    async waitForWildcardCertificateReady(): Promise<void> {
      await waitForCertificate(wildcard.ref, () => wildcard.read<CertificateObject>(), 'applyWildcardCertificate');
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

    /**
     * Ingress `app` for `<slug>.<baseDomain>`, routing to Service `app`, TLS from Secret `app-tls`
     * (per instance) or from the ingress controller's default certificate (wildcard). The mode is
     * the operation's (fixed at its start), not the worker's.
     */
    async applyIngress(slug: string, tlsMode: TlsMode = 'per-instance'): Promise<void> {
      await requireNamespace(slug);
      await apply(slug, ingressManifest(slug, config, tlsMode));
    },

    async deleteIngress(slug: string): Promise<void> {
      await remove(slug, refs.ingress(slug));
    },
  };
}
