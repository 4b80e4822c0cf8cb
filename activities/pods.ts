// What stands between a rollout and its end, read from the pods' status as the scheduler and the
// kubelet report it. Pure: kubernetes.ts feeds it the pods it lists, test/unit/pods.test.ts
// feeds it objects.
import type { V1Pod } from '@kubernetes/client-node';

/** Container waiting reasons that mean the image will not arrive, however long one waits. */
const imagePullReasons = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

export interface PodTrouble {
  pod: string;
  /**
   * unschedulable: the scheduler found no node; imagePull: the image cannot be pulled;
   * waiting: a container waits for another reason (CrashLoopBackOff, ContainerCreating, …);
   * notReady: anything else short of Ready (e.g. running with a failing readiness probe).
   */
  kind: 'unschedulable' | 'imagePull' | 'waiting' | 'notReady';
  /** The reason in the words of whoever gave it, e.g. `0/3 nodes are available: 3 Too many pods.` */
  says: string;
}

const isReady = (pod: V1Pod): boolean => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Every pod that is not Ready and not on its way out, with what keeps it from being Ready. */
export function podTroubles(pods: V1Pod[]): PodTrouble[] {
  return pods
    .filter((pod) => !pod.metadata?.deletionTimestamp && !isReady(pod))
    .map((pod) => ({ pod: pod.metadata?.name ?? '(unnamed pod)', ...troubleOf(pod) }));
}

function troubleOf(pod: V1Pod): Omit<PodTrouble, 'pod'> {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { kind: 'unschedulable', says: `Pending, unschedulable: ${scheduled.message ?? 'no reason given'}` };
  }
  const containers = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const waiting = containers.map((c) => ({ name: c.name, state: c.state?.waiting })).filter((c) => c.state?.reason);
  const pull = waiting.find((c) => imagePullReasons.has(c.state!.reason!));
  if (pull) return { kind: 'imagePull', says: waitingText(pull.name, pull.state!) };
  if (waiting[0]) return { kind: 'waiting', says: waitingText(waiting[0].name, waiting[0].state!) };
  if (!pod.spec?.nodeName) return { kind: 'notReady', says: 'Pending, not scheduled yet' };
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const why = ready?.message ?? ready?.reason;
  return { kind: 'notReady', says: `${pod.status?.phase ?? 'Pending'}, not ready${why ? ` (${why})` : ''}` };
}

function waitingText(container: string, state: { reason?: string; message?: string }): string {
  return `container ${container} ${state.reason}${state.message ? `: ${state.message}` : ''}`;
}

/**
 * One line for people: pods with the same trouble are counted together (the scheduler gives
 * every pod of a full cluster the same message), at most `limit` different troubles shown.
 */
export function summariseTroubles(troubles: PodTrouble[], limit = 3): string {
  const bySays = new Map<string, string[]>();
  for (const t of troubles) bySays.set(t.says, [...(bySays.get(t.says) ?? []), t.pod]);
  const groups = [...bySays.entries()].map(([says, names]) =>
    names.length === 1 ? `pod ${names[0]}: ${says}` : `${names.length} pods (${names.slice(0, 2).join(', ')}${names.length > 2 ? ', …' : ''}): ${says}`,
  );
  const more = groups.length > limit ? `; and ${groups.length - limit} more` : '';
  return groups.slice(0, limit).join('; ') + more;
}
