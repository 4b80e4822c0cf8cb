// A cluster with no room left: throwaway pods fill every fake node up to its pod capacity, so
// the next pod is refused by the scheduler ("0/3 nodes are available: 3 Too many pods"), as in a
// real cluster at its limit. It holds the whole (shared) cluster, so keep the window short:
// fill, run the one thing that must meet a full cluster, release.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment, type V1Namespace } from '@kubernetes/client-node';
import { uniqueSuffix } from './config';

const fillerLabel = 'shipyard.dev/test-filler';

export interface FullCluster {
  /** Deletes the filler pods and waits until their namespace is gone (the room is back). */
  release(): Promise<void>;
}

export async function fillCluster(kube: KubeConfig, { timeoutMs = 180_000 } = {}): Promise<FullCluster> {
  const core = kube.makeApiClient(CoreV1Api);
  const apps = kube.makeApiClient(AppsV1Api);

  async function deleteNamespaceAndWait(name: string): Promise<void> {
    await core.deleteNamespace({ name }).catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
    await until(`namespace ${name} to be gone`, timeoutMs, async () =>
      core.readNamespace({ name }).then(
        () => false,
        (err: { code?: number }) => err.code === 404,
      ),
    );
  }

  // A run that died before releasing left the cluster full; nothing else could run meanwhile.
  const stale = await core.listNamespace({ labelSelector: `${fillerLabel}=true` });
  for (const ns of stale.items) await deleteNamespaceAndWait(ns.metadata!.name!);

  /** Free pod slots per schedulable node. */
  async function room(): Promise<Map<string, number>> {
    const [nodes, pods] = await Promise.all([core.listNode(), core.listPodForAllNamespaces()]);
    const free = new Map<string, number>();
    for (const node of nodes.items) {
      if (node.spec?.unschedulable) continue;
      free.set(node.metadata!.name!, Number(node.status?.allocatable?.pods ?? 0));
    }
    for (const pod of pods.items) {
      const node = pod.spec?.nodeName;
      if (!node || !free.has(node) || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
      free.set(node, free.get(node)! - 1);
    }
    return free;
  }

  const namespace = `shipyard-test-filler-${uniqueSuffix()}`;
  const free = [...(await room()).values()].reduce((a, b) => a + Math.max(b, 0), 0);
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { [fillerLabel]: 'true' } } } satisfies V1Namespace });
  const release = () => deleteNamespaceAndWait(namespace);
  try {
    const labels = { [fillerLabel]: 'true' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'filler', labels },
        spec: {
          // A few more than fit: they wait Pending and take any slot another test frees meanwhile.
          replicas: free + 3,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              terminationGracePeriodSeconds: 0,
              containers: [{ name: 'filler', image: 'registry.shipyard.test/filler:1' }],
            },
          },
        },
      } satisfies V1Deployment,
    });
    await until('every node to be at its pod capacity', timeoutMs, async () => [...(await room()).values()].every((n) => n <= 0));
  } catch (err) {
    await release();
    throw err;
  }
  return { release };
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
