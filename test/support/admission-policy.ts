// Waiting for the chart's ValidatingAdmissionPolicy to be in force, for the tests that install it.
// The apiserver loads a new policy and its binding through informers and compiles them, so for a
// moment after they are created requests still pass unchecked.
import { KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';

/** The message of a rejected Kubernetes request (its Status), or the error's own message. */
export function kubeMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return String((JSON.parse(body) as { message?: string }).message ?? body);
    } catch {
      return body;
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return err instanceof Error ? err.message : String(err);
}

/**
 * Resolves once `identity` is refused, by the policy named `policyName`, a dry-run label change
 * on `unlabelledNamespace` (a namespace without app.kubernetes.io/managed-by=shipyard). Dry run:
 * until the policy is in force the request passes and changes nothing.
 */
export async function admissionPolicyInForce(identity: KubeConfig, policyName: string, unlabelledNamespace: string, timeoutMs = 60_000): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(identity);
  const patch = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: unlabelledNamespace, labels: { 'shipyard.test/probe': 'policy' } } };
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      await objects.patch(patch, undefined, 'All', undefined, undefined, PatchStrategy.MergePatch);
      last = 'the dry-run patch was allowed';
    } catch (err) {
      last = kubeMessage(err);
      if (last.includes(`ValidatingAdmissionPolicy '${policyName}'`)) return;
    }
    if (Date.now() > deadline) throw new Error(`admission policy ${policyName} not in force after ${timeoutMs / 1000}s: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
