// The one cert-manager Certificate for `*.<base domain>` that every instance serves when
// SHIPYARD_TLS_MODE=wildcard: kept in the ingress controller's namespace under a fixed name, which
// the controller serves as its default certificate. Ensured (server-side apply, like everything
// Shipyard makes) when a worker starts and by every provision in the mode, which then waits for it
// to be Ready. Shipyard never deletes it: every instance in the mode serves it.
import { PatchStrategy, type KubeConfig, type KubernetesObject, type V1Namespace } from '@kubernetes/client-node';
import type { Config } from '../domain/config';
import { errorTypes, kubeError, notOwned, permanent } from './errors';
import { describe, fieldManager, kubeObjects, type Ref } from './kube-objects';
import { wildcardCertificateManifest, wildcardLabels, wildcardNames } from './manifests';

export type WildcardConfig = Pick<Config, 'baseDomain' | 'certIssuer' | 'ingressNamespace'>;

export const wildcardRef = (config: Pick<Config, 'ingressNamespace'>): Ref => ({
  apiVersion: 'cert-manager.io/v1',
  kind: 'Certificate',
  name: wildcardNames.certificate,
  namespace: config.ingressNamespace,
});

/** Ours = the wildcard's own labels (managed by Shipyard, component wildcard-certificate); undefined when ours. */
export function wildcardOwnership(obj: KubernetesObject): string | undefined {
  const labels = obj.metadata?.labels ?? {};
  const missing = Object.entries(wildcardLabels).find(([key, value]) => labels[key] !== value);
  return missing ? `it has no ${missing[0]}=${missing[1]} label` : undefined;
}

export function wildcardCertificate(kube: KubeConfig, config: WildcardConfig) {
  const { objects, read } = kubeObjects(kube);
  const ref = wildcardRef(config);

  /** The Certificate, or undefined when there is none; one that is not Shipyard's is refused. */
  async function readOwned<T extends KubernetesObject>(): Promise<T | undefined> {
    const cert = await read<T>(ref);
    const problem = cert && wildcardOwnership(cert);
    if (problem) throw notOwned(describe(ref), problem);
    return cert;
  }

  return {
    ref,
    read: readOwned,

    /** Creates the Certificate or brings it to what the config says (issuer, base domain); idempotent. */
    async ensure(): Promise<void> {
      const namespace = await read<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', name: config.ingressNamespace });
      if (!namespace) {
        throw permanent(
          `Namespace ${config.ingressNamespace} does not exist: SHIPYARD_INGRESS_NAMESPACE must name the ingress controller's namespace, ` +
            `where the wildcard certificate ${wildcardNames.certificate} is kept`,
          errorTypes.missingDependency,
        );
      }
      // Server-side apply with force would silently adopt a foreign object; look first.
      await readOwned();
      try {
        await objects.patch(wildcardCertificateManifest(config), undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
      } catch (err) {
        throw kubeError(`apply ${describe(ref)}`, err);
      }
    },
  };
}
