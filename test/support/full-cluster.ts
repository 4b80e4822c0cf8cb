// A cluster with no room left: every fake node's pod capacity is lowered to the pods it already
// holds, so the next pod is refused by the scheduler ("0/3 nodes are available: 3 Too many pods"),
// as in a real cluster at its limit. Lowering the capacity, rather than filling the nodes with
// throwaway pods, costs the same however large the testbed's nodes are (room for 2,000 pods by
// default). It holds the whole (shared) cluster, so keep the window short: fill, run what must meet
// a full cluster, release.
import { CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import { uniqueSuffix } from './config';

const fillerLabel = 'shipyard.dev/test-filler';
/** On a node while it is held full: the pod capacity to give back. */
const savedPodsAnnotation = 'shipyard.dev/test-filler-saved-pods';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface FullCluster {
  /** Gives every node its pod capacity back. */
  release(): Promise<void>;
}

export async function fillCluster(kube: KubeConfig, { timeoutMs = 60_000 } = {}): Promise<FullCluster> {
  const core = kube.makeApiClient(CoreV1Api);

  async function setPods(name: string, pods: string, saved: string | null): Promise<void> {
    // The annotation first when filling and last when releasing: a run that dies in between
    // leaves a node that says what to give back.
    const annotate = () => core.patchNode({ name, body: { metadata: { annotations: { [savedPodsAnnotation]: saved } } } }, mergePatch);
    if (saved !== null) await annotate();
    await core.patchNodeStatus({ name, body: { status: { capacity: { pods }, allocatable: { pods } } } }, mergePatch);
    if (saved === null) await annotate();
  }

  async function release(): Promise<void> {
    for (const node of (await core.listNode()).items) {
      const saved = node.metadata?.annotations?.[savedPodsAnnotation];
      if (saved !== undefined) await setPods(node.metadata!.name!, saved, null);
    }
    for (const ns of (await core.listNamespace({ labelSelector: `${fillerLabel}=true` })).items) {
      await core.deleteNamespace({ name: ns.metadata!.name! }).catch((err: { code?: number }) => {
        if (err.code !== 404) throw err;
      });
    }
  }

  // A run that died before releasing left the cluster full; nothing else could run meanwhile.
  await release();

  const [nodes, pods] = await Promise.all([core.listNode(), core.listPodForAllNamespaces()]);
  const held = new Map<string, number>();
  for (const node of nodes.items) if (!node.spec?.unschedulable) held.set(node.metadata!.name!, 0);
  for (const pod of pods.items) {
    const node = pod.spec?.nodeName;
    // A pod on its way out still takes its slot until it is gone, and leaves the node full after.
    if (!node || !held.has(node) || pod.metadata?.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    held.set(node, held.get(node)! + 1);
  }
  try {
    for (const node of nodes.items) {
      const name = node.metadata!.name!;
      if (held.has(name)) await setPods(name, String(held.get(name)), node.status?.capacity?.pods ?? '0');
    }
    await untilTheSchedulerRefuses(core, timeoutMs);
  } catch (err) {
    await release();
    throw err;
  }
  return { release };
}

/** The scheduler works from its own cache of the nodes: full is when it refuses a pod. */
async function untilTheSchedulerRefuses(core: CoreV1Api, timeoutMs: number): Promise<void> {
  const namespace = `shipyard-test-filler-${uniqueSuffix()}`;
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { [fillerLabel]: 'true' } } } satisfies V1Namespace });
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: 'probe' },
      spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'probe', image: 'registry.shipyard.test/filler:1' }] },
    } satisfies V1Pod,
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = await core.readNamespacedPod({ name: 'probe', namespace });
    const scheduled = probe.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') return;
    if (probe.spec?.nodeName) throw new Error(`the cluster is not full: the probe pod was scheduled on ${probe.spec.nodeName}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for the scheduler to refuse a pod`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
