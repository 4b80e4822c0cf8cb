import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineUpdate,
  proxyActivities,
  setHandler,
  patched,
  upsertMemo,
  upsertSearchAttributes,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { InstanceUpgradeOutcome } from '../activities/rollouts';
import {
  abortUpdateName,
  pauseUpdateName,
  resumeUpdateName,
  planWaves,
  rolloutStateQueryName,
  type RolloutInput,
  type RolloutMemo,
  type RolloutStatus,
  type RolloutState,
  type RolloutTarget,
} from '../domain/rollouts';
import { searchAttributeKeys } from '../domain/search-attributes';
import { quick } from './activities';
import { describeError } from './runbook';

export const rolloutStateQuery = defineQuery<RolloutState>(rolloutStateQueryName);
export const pauseUpdate = defineUpdate<RolloutState>(pauseUpdateName);
export const resumeUpdate = defineUpdate<RolloutState, [{ failureBudget?: number }]>(resumeUpdateName);
export const abortUpdate = defineUpdate<RolloutState>(abortUpdateName);

/** Runs from before this change set only the memo's status (replays of them must not upsert). */
const ROLLOUT_STATUS_SEARCH_ATTRIBUTE = 'rollout-status-search-attribute';

// One instance's upgrade lasts as long as its operation (a rollout wait, perhaps a rollback): no
// overall bound; a dead worker is noticed by the missing heartbeat and the call is retried, which
// waits on the same operation again (see upgradeForRollout).
const upgrades = proxyActivities<Activities>({
  startToCloseTimeout: '24h',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s' },
});

/**
 * Upgrades a fixed set of instances to one version: the canary, then cumulative waves (waving by
 * region: that plan for each region in turn, see planWaves), at most `maxParallel` upgrades in
 * flight, each the instance's ordinary upgrade operation. More
 * rolled-back or failed upgrades than the failure budget halt it (in-flight ones finish); pause,
 * resume and abort are Updates answering the new state. It continues as new, between upgrades,
 * before its history grows large, carrying where it stands.
 */
export async function rolloutFleet(input: RolloutInput): Promise<RolloutState> {
  const state: RolloutState = input.carried ?? {
    status: 'running',
    strategy: input.strategy,
    targets: [],
    wave: 0,
    startedAt: new Date().toISOString(),
    runs: 0,
  };
  state.runs++;
  let inFlight = 0;
  const failures = () => state.targets.filter((t) => t.status === 'rolled_back' || t.status === 'failed').length;
  const overBudget = () => failures() > state.strategy.failureBudget;
  const wantsNewRun = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > input.historyThreshold;
  // Read through a function: the compiler would otherwise narrow it across the awaits that let Updates change it.
  const aborted = () => state.status === 'aborted';

  /**
   * The memo carries the status, and so does ShipyardRolloutStatus (the rollout list queries it).
   * Only a run started with Shipyard's search attributes sets it: on a namespace that does not
   * know them, an upsert would fail the workflow task.
   */
  function setStatus(status: RolloutStatus): void {
    state.status = status;
    upsertMemo({ status } satisfies Partial<RolloutMemo>);
    if (patched(ROLLOUT_STATUS_SEARCH_ATTRIBUTE) && workflowInfo().typedSearchAttributes.get(searchAttributeKeys.rollout) !== undefined) {
      upsertSearchAttributes([{ key: searchAttributeKeys.rolloutStatus, value: status }]);
    }
  }

  setHandler(rolloutStateQuery, () => state);
  setHandler(
    pauseUpdate,
    () => {
      setStatus('paused');
      return state;
    },
    { validator: () => refuseUnless(state, ['running']) },
  );
  setHandler(
    resumeUpdate,
    (request) => {
      if (request.failureBudget !== undefined) state.strategy.failureBudget = request.failureBudget;
      setStatus('running');
      return state;
    },
    {
      validator: (request) => {
        refuseUnless(state, ['paused', 'halted']);
        const budget = request.failureBudget ?? state.strategy.failureBudget;
        if (failures() > budget) {
          throw ApplicationFailure.nonRetryable(
            `${failures()} upgrades failed or rolled back, more than a failure budget of ${budget}; resume with a larger failureBudget`,
            'OverBudget',
          );
        }
      },
    },
  );
  setHandler(
    abortUpdate,
    () => {
      setStatus('aborted');
      return state;
    },
    { validator: () => refuseUnless(state, ['running', 'paused', 'halted']) },
  );

  if (!input.carried) {
    // Waving by region is new: only inputs that ask for it (never a run started before it) take
    // this branch, so earlier histories replay the one below unchanged.
    if (input.strategy.waveBy === 'region') {
      const targets = await quick.selectRolloutTargetsByRegion(input.selector, input.version, input.strategy.regions ?? []);
      state.targets = targets.map(({ slug, region }) => ({ slug, region, status: 'pending' }));
    } else {
      const slugs = await quick.selectRolloutTargets(input.selector, input.version);
      state.targets = slugs.map((slug) => ({ slug, status: 'pending' }));
    }
  }

  function launch(target: RolloutTarget): void {
    target.status = 'running';
    delete target.busy;
    inFlight++;
    void upgrades
      .upgradeForRollout(input.id, target.slug, input.version)
      .then(
        (outcome) => settle(target, outcome),
        (err) => Object.assign(target, { status: 'failed', error: describeError(err) }),
      )
      .finally(() => {
        inFlight--;
        if (overBudget() && state.status === 'running') setStatus('halted');
      });
  }

  /**
   * Starts the slice's pending targets while the rollout may start upgrades; returns once none is
   * in flight and none may start: the slice is done, the rollout is aborted, or a new run is due.
   * Paused and halted, it waits here for a resume or an abort.
   */
  async function drive(slice: RolloutTarget[]): Promise<void> {
    const mayStart = () => state.status === 'running' && !overBudget() && !wantsNewRun();
    const next = () => slice.find((t) => t.status === 'pending' && !t.busy);
    for (;;) {
      await condition(() => inFlight === 0 || (mayStart() && inFlight < state.strategy.maxParallel && next() !== undefined));
      const target = mayStart() && inFlight < state.strategy.maxParallel ? next() : undefined;
      if (target) {
        launch(target);
        continue;
      }
      if (inFlight > 0) continue;
      if (state.status === 'paused' || state.status === 'halted') {
        await condition(() => state.status !== 'paused' && state.status !== 'halted');
        continue;
      }
      return;
    }
  }

  async function newRunIfDue(): Promise<void> {
    if (!wantsNewRun()) return;
    // Updates answered in this run must have answered before it ends.
    await condition(allHandlersFinished);
    await continueAsNew<typeof rolloutFleet>({ ...input, carried: state });
  }

  // Without waveBy (every earlier run) these are waveEnds over all the targets, as before.
  const planned = planWaves(state.targets, state.strategy);
  const ends = planned.map((w) => w.end);
  /** Waving by region: the wave is its region's last, and another region follows. */
  const endsRegion = (wave: number) => wave < planned.length - 1 && planned[wave]!.region !== planned[wave + 1]!.region;
  for (; state.wave < ends.length && !aborted(); state.wave++) {
    const wave = state.targets.slice(state.wave === 0 ? 0 : ends[state.wave - 1], ends[state.wave]);
    await drive(wave);
    await newRunIfDue();
    // A new run picks this wave up again; a wave left with pending targets is an aborted one.
    if (aborted()) break;
    // One pause after the canary, and (pauseBetweenRegions, which no earlier run has) one after
    // each region but the last; a wave that is both pauses once.
    const canaryPause = state.wave === 0 && state.strategy.pauseAfterCanary && !state.canaryPauseTaken;
    const regionPause = state.strategy.pauseBetweenRegions === true && endsRegion(state.wave) && state.regionPauseWave !== state.wave;
    if (canaryPause || regionPause) {
      if (canaryPause) state.canaryPauseTaken = true;
      if (regionPause) state.regionPauseWave = state.wave;
      setStatus('paused');
      await condition(() => state.status !== 'paused');
      if (regionPause && aborted()) break;
    }
    if (state.wave < ends.length - 1 && state.strategy.waitBetweenWavesSeconds > 0) {
      await sleep(state.strategy.waitBetweenWavesSeconds * 1000);
    }
  }

  // Instances busy with another operation during their wave: tried again until the rollout ends.
  for (let round = 0; round < input.busyRetries && !aborted(); round++) {
    const busy = state.targets.filter((t) => t.status === 'pending' && t.busy);
    if (busy.length === 0) break;
    await sleep(input.busyRetrySeconds * 1000);
    for (const t of busy) delete t.busy;
    await drive(busy);
    await newRunIfDue();
  }
  for (const t of state.targets) {
    if (t.status === 'pending' && t.busy) Object.assign(t, { status: 'skipped', busy: undefined });
  }

  state.endedAt = new Date().toISOString();
  setStatus(aborted() ? 'aborted' : 'succeeded');
  await condition(allHandlersFinished);
  return state;
}

function settle(target: RolloutTarget, outcome: InstanceUpgradeOutcome): void {
  switch (outcome.status) {
    case 'busy':
      Object.assign(target, { status: 'pending', busy: true, error: outcome.error });
      return;
    case 'refused':
      Object.assign(target, { status: 'skipped', error: outcome.error });
      return;
    case 'cancelled':
      // Someone cancelled the upgrade: the instance was put back on its old version.
      Object.assign(target, { status: 'rolled_back', operationId: outcome.operationId, error: outcome.error ?? 'the upgrade was cancelled' });
      return;
    default:
      Object.assign(target, { status: outcome.status, operationId: outcome.operationId, ...(outcome.error ? { error: outcome.error } : {}) });
  }
}

function refuseUnless(state: RolloutState, allowed: RolloutState['status'][]): void {
  if (!allowed.includes(state.status)) {
    throw ApplicationFailure.nonRetryable(`the rollout is ${state.status}; this needs it ${allowed.join(' or ')}`, 'RolloutState');
  }
}
