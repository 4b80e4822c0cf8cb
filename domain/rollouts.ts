// Fleet rollouts: one version to many instances, in waves. The contract between the API (which
// starts, reads and steers a rollout) and its workflow. Pure types, names and arithmetic only:
// importable from workflow code and from Node code alike.

export const rolloutWorkflowIdFor = (id: string): string => `rollout:${id}`;
/** The actor of every upgrade a rollout starts: it ties an instance's operation to its rollout. */
export const rolloutActorFor = (id: string): string => `rollout:${id}`;
/** The rollout an actor names (see rolloutActorFor), if it is one. */
export const rolloutIdOfActor = (actor: string): string | undefined => (actor.startsWith('rollout:') ? actor.slice('rollout:'.length) : undefined);

export const rolloutStatuses = ['running', 'paused', 'halted', 'succeeded', 'aborted', 'failed'] as const;
export type RolloutStatus = (typeof rolloutStatuses)[number];

export interface RolloutSelector {
  plans?: string[];
  slugs?: string[];
  /** Only instances now at one of these versions. */
  versions?: string[];
  /** Multi-cluster: only instances placed in one of these clusters. */
  clusters?: string[];
  /** Multi-cluster: only instances placed in a cluster of one of these regions. */
  regions?: string[];
}

export interface RolloutStrategy {
  /** Instances upgraded first, alone, before any wave. */
  canary: number;
  /** Cumulative percentages of the selected fleet, increasing, ending at 100. */
  waves: number[];
  maxParallel: number;
  /** Rolled-back + failed upgrades tolerated; one more halts the rollout. */
  failureBudget: number;
  pauseAfterCanary: boolean;
  waitBetweenWavesSeconds: number;
}

export const defaultRolloutStrategy: RolloutStrategy = {
  canary: 1,
  waves: [10, 50, 100],
  maxParallel: 10,
  failureBudget: 0,
  pauseAfterCanary: false,
  waitBetweenWavesSeconds: 0,
};

/** Why the waves are not a valid plan, or undefined. */
export function wavesProblem(waves: number[]): string | undefined {
  if (waves.length === 0) return 'must list at least one percentage';
  for (let i = 1; i < waves.length; i++) if (waves[i]! <= waves[i - 1]!) return 'percentages must increase';
  if (waves.at(-1) !== 100) return 'the last wave must be 100';
  return undefined;
}

/** Where each wave ends in the target list: the canary, then each cumulative percentage (empty waves dropped). */
export function waveEnds(total: number, strategy: Pick<RolloutStrategy, 'canary' | 'waves'>): number[] {
  const ends: number[] = [];
  let last = 0;
  for (const end of [Math.min(strategy.canary, total), ...strategy.waves.map((p) => Math.ceil((total * p) / 100))]) {
    if (end > last) ends.push(end);
    last = Math.max(last, end);
  }
  return ends;
}

export type TargetStatus = 'pending' | 'running' | 'succeeded' | 'rolled_back' | 'failed' | 'skipped';

export interface RolloutTarget {
  slug: string;
  status: TargetStatus;
  operationId?: string;
  error?: string;
  /** Busy with another operation when last tried: tried again once the waves are through. */
  busy?: boolean;
}

export interface RolloutInput {
  id: string;
  version: string;
  selector: RolloutSelector;
  strategy: RolloutStrategy;
  actor: string;
  /** History length past which a run continues as new (Temporal's own suggestion also counts). */
  historyThreshold: number;
  /** How often, and how long apart, instances found busy are tried again at the end. */
  busyRetries: number;
  busyRetrySeconds: number;
  /** Set when a run continues as new: where the rollout stands. */
  carried?: RolloutState;
}

export interface RolloutState {
  status: RolloutStatus;
  strategy: RolloutStrategy;
  targets: RolloutTarget[];
  /** The index in waveEnds of the wave in progress (or the last one). */
  wave: number;
  startedAt: string;
  endedAt?: string;
  /** Set once a pause after the canary has been taken, so a resume does not pause again. */
  canaryPauseTaken?: boolean;
  /** Runs of this rollout so far (1 + continues-as-new). */
  runs: number;
}

export type Counts = Record<'total' | 'pending' | 'running' | 'succeeded' | 'rolledBack' | 'failed' | 'skipped', number>;

export function countTargets(targets: RolloutTarget[]): Counts {
  const counts: Counts = { total: targets.length, pending: 0, running: 0, succeeded: 0, rolledBack: 0, failed: 0, skipped: 0 };
  for (const t of targets) counts[t.status === 'rolled_back' ? 'rolledBack' : t.status]++;
  return counts;
}

export const rolloutStateQueryName = 'rolloutState';
export const pauseUpdateName = 'pause';
export const resumeUpdateName = 'resume';
export const abortUpdateName = 'abort';

/** The memo on a rollout run: what a list shows without asking the workflow. */
export interface RolloutMemo {
  rolloutId: string;
  version: string;
  /** Kept current by the workflow (absent until its first change: running). */
  status?: RolloutStatus;
}

export interface RolloutWave {
  index: number;
  size: number;
  status: 'pending' | 'running' | 'done';
  counts: Counts;
}

export interface RolloutFailure {
  slug: string;
  operationId?: string;
  error: string;
}

/** A rollout's state as users see it: counts overall and per wave, and what failed. */
export function summarize(state: RolloutState) {
  const ends = waveEnds(state.targets.length, state.strategy);
  const waves: RolloutWave[] = ends.map((end, index) => {
    const slice = state.targets.slice(index === 0 ? 0 : ends[index - 1], end);
    const counts = countTargets(slice);
    const status = counts.pending === counts.total ? 'pending' : counts.pending + counts.running === 0 ? 'done' : 'running';
    return { index, size: slice.length, status, counts };
  });
  const failures: RolloutFailure[] = state.targets
    .filter((t) => t.status === 'rolled_back' || t.status === 'failed')
    .map((t) => ({ slug: t.slug, ...(t.operationId ? { operationId: t.operationId } : {}), error: t.error ?? t.status }));
  return { counts: countTargets(state.targets), waves, failures };
}
