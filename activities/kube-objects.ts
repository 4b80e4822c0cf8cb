// Reading and writing Shipyard's own Kubernetes objects: server-side apply with one fixed field
// manager, reads that refuse an object without Shipyard's ownership labels, deletes that treat
// not-found as done. Shared by the Kubernetes activities and the modules built on them (the app
// Secret, which backups read and restores write).
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject, type V1Namespace } from '@kubernetes/client-node';
import { instanceLabel, managedByLabel, managedByValue, namespaceFor } from '../domain/instance';
import { errorTypes, isKubeNotFound, kubeError, notOwned, permanent } from './errors';
import { names } from './manifests';

export const fieldManager = 'shipyard';

export interface Ref {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export const refOf = (obj: KubernetesObject): Ref => ({
  apiVersion: obj.apiVersion!,
  kind: obj.kind!,
  name: obj.metadata!.name!,
  namespace: obj.metadata?.namespace,
});

export const describe = (ref: Ref): string => `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;

export const header = (ref: Ref) => ({
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

export const refs = {
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
export function ownership(obj: KubernetesObject, slug: string): string | undefined {
  const labels = obj.metadata?.labels ?? {};
  if (labels[managedByLabel] !== managedByValue) return `it has no ${managedByLabel}=${managedByValue} label`;
  if (labels[instanceLabel] !== slug) return `its ${instanceLabel} label is "${labels[instanceLabel] ?? ''}", not "${slug}"`;
  return undefined;
}

export type KubeObjects = ReturnType<typeof kubeObjects>;

export function kubeObjects(kube: KubeConfig) {
  const objects = KubernetesObjectApi.makeApiClient(kube);

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

  /** Deletes `existing`, just read from `ref` and found to be ours. */
  async function removeRead(ref: Ref, existing: KubernetesObject): Promise<boolean> {
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

  /** Deletes one object if it exists and is ours; returns whether there was anything to delete. */
  async function remove(slug: string, ref: Ref, isOurs = (obj: KubernetesObject) => ownership(obj, slug)): Promise<boolean> {
    const existing = await read(ref);
    if (!existing) return false;
    const problem = isOurs(existing);
    if (problem) throw notOwned(describe(ref), problem);
    return removeRead(ref, existing);
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

  return { objects, read, readOwned, apply, remove, removeRead, requireNamespace };
}
