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
  /**
   * `region`: the targets go region by region, in the order of `regions`; within each region the
   * canary and the percentage waves apply to that region's targets. Absent: one wave plan over the
   * whole target set (every rollout before this option).
   */
  waveBy?: 'region';
  /** The regions in the order they are rolled out (waveBy region only; set at the start). */
  regions?: string[];
  /** WaveBy region only: pause once a region is done, before the next one starts (resume goes on). */
  pauseBetweenRegions?: boolean;
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

/**
 * Why a request's region waving does not fit its selector (field and message), or undefined. The
 * order comes from `strategy.regions`, else from `selector.regions`; when both are given they must
 * name the same regions, so that every selected instance has a place in the order.
 */
export function regionWavesProblem(
  selector: Pick<RolloutSelector, 'regions'>,
  strategy: Pick<RolloutStrategy, 'waveBy' | 'regions' | 'pauseBetweenRegions'>,
): { field: string; message: string } | undefined {
  if (strategy.waveBy !== 'region') {
    if (strategy.regions) return { field: 'strategy.regions', message: "orders the waves by region: it needs waveBy 'region'" };
    if (strategy.pauseBetweenRegions) return { field: 'strategy.pauseBetweenRegions', message: "pauses between regions: it needs waveBy 'region'" };
    return undefined;
  }
  if (!strategy.regions && !selector.regions) {
    return { field: 'strategy.waveBy', message: 'waving by region needs the regions in their order: selector.regions or strategy.regions' };
  }
  if (strategy.regions && selector.regions) {
    const outside = strategy.regions.find((r) => !selector.regions!.includes(r));
    if (outside) return { field: 'strategy.regions', message: `region ${outside} is not in selector.regions` };
    const unordered = selector.regions.find((r) => !strategy.regions!.includes(r));
    if (unordered) return { field: 'strategy.regions', message: `region ${unordered} of selector.regions has no place in the order` };
  }
  return undefined;
}

/** The region order of a region-waving request (see regionWavesProblem, which must have passed). */
export const regionOrderOf = (selector: Pick<RolloutSelector, 'regions'>, strategy: Pick<RolloutStrategy, 'regions'>): string[] =>
  strategy.regions ?? selector.regions ?? [];

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

/** One wave of the plan: the targets from the previous wave's end up to `end`. */
export interface PlannedWave {
  end: number;
  /** Waving by region: the region all of this wave's targets are in. */
  region?: string;
  /** How an operator names it: `canary`, `wave 2`; waving by region `eu canary`, `eu wave 1`. */
  name: string;
}

/**
 * The waves of a rollout over its targets. Without waveBy: waveEnds over them all. Waving by
 * region: the targets come grouped by region in the order of `strategy.regions`, and each region
 * gets waveEnds of its own (its canary, then its percentages), one region after the other. Pure and
 * deterministic: the workflow drives these waves and the view names them.
 */
export function planWaves(targets: Pick<RolloutTarget, 'region'>[], strategy: Pick<RolloutStrategy, 'canary' | 'waves' | 'waveBy'>): PlannedWave[] {
  const name = (i: number) => (strategy.canary > 0 ? (i === 0 ? 'canary' : `wave ${i}`) : `wave ${i + 1}`);
  if (strategy.waveBy !== 'region') return waveEnds(targets.length, strategy).map((end, i) => ({ end, name: name(i) }));
  const planned: PlannedWave[] = [];
  for (let start = 0; start < targets.length; ) {
    const region = targets[start]!.region;
    let stop = start;
    while (stop < targets.length && targets[stop]!.region === region) stop++;
    waveEnds(stop - start, strategy).forEach((end, i) =>
      planned.push({ end: start + end, ...(region !== undefined ? { region } : {}), name: `${region ?? 'no region'} ${name(i)}` }),
    );
    start = stop;
  }
  return planned;
}

export type TargetStatus = 'pending' | 'running' | 'succeeded' | 'rolled_back' | 'failed' | 'skipped';

export interface RolloutTarget {
  slug: string;
  status: TargetStatus;
  operationId?: string;
  error?: string;
  /** Busy with another operation when last tried: tried again once the waves are through. */
  busy?: boolean;
  /** Waving by region: the region of the instance's cluster when the rollout started. */
  region?: string;
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
  /** pauseBetweenRegions: the wave (a region's last) after which the latest pause was taken, so it is taken once. */
  regionPauseWave?: number;
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
  /** `canary`, `wave 1`, …; waving by region, prefixed by the region: `eu canary`, `eu wave 1`. */
  name: string;
  region?: string;
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
  const planned = planWaves(state.targets, state.strategy);
  const waves: RolloutWave[] = planned.map(({ end, region, name }, index) => {
    const slice = state.targets.slice(index === 0 ? 0 : planned[index - 1]!.end, end);
    const counts = countTargets(slice);
    const status = counts.pending === counts.total ? 'pending' : counts.pending + counts.running === 0 ? 'done' : 'running';
    return { index, name, ...(region !== undefined ? { region } : {}), size: slice.length, status, counts };
  });
  const failures: RolloutFailure[] = state.targets
    .filter((t) => t.status === 'rolled_back' || t.status === 'failed')
    .map((t) => ({ slug: t.slug, ...(t.operationId ? { operationId: t.operationId } : {}), error: t.error ?? t.status }));
  return { counts: countTargets(state.targets), waves, failures };
}
