// The arithmetic of a rollout's waves and counts (pure).
import { describe, expect, it } from 'vitest';
import { defaultRolloutStrategy, planWaves, regionOrderOf, regionWavesProblem, summarize, waveEnds, wavesProblem, type RolloutState } from '../../domain/rollouts';

describe('waveEnds', () => {
  it('puts the canary first, then each cumulative percentage rounded up', () => {
    expect(waveEnds(20, { canary: 1, waves: [10, 50, 100] })).toEqual([1, 2, 10, 20]);
    expect(waveEnds(6, { canary: 1, waves: [50, 100] })).toEqual([1, 3, 6]);
  });
  it('drops waves the canary or an earlier wave already covers', () => {
    expect(waveEnds(3, { canary: 1, waves: [10, 50, 100] })).toEqual([1, 2, 3]);
    expect(waveEnds(2, { canary: 5, waves: [50, 100] })).toEqual([2]);
    expect(waveEnds(5, { canary: 0, waves: [100] })).toEqual([5]);
  });
});

describe('wavesProblem', () => {
  it('wants increasing percentages ending at 100', () => {
    expect(wavesProblem([10, 50, 100])).toBeUndefined();
    expect(wavesProblem([50, 50, 100])).toMatch(/increase/);
    expect(wavesProblem([10, 90])).toMatch(/100/);
    expect(wavesProblem([])).toMatch(/at least one/);
  });
});

describe('summarize', () => {
  it('counts per wave and overall, adding up to the total, and lists the failures', () => {
    const state: RolloutState = {
      status: 'halted',
      strategy: { ...defaultRolloutStrategy, waves: [50, 100] },
      targets: [
        { slug: 'a', status: 'succeeded', operationId: 'op_a' },
        { slug: 'b', status: 'rolled_back', operationId: 'op_b', error: 'did not roll out' },
        { slug: 'c', status: 'running' },
        { slug: 'd', status: 'pending' },
      ],
      wave: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      runs: 1,
    };
    const { counts, waves, failures } = summarize(state);
    expect(counts).toEqual({ total: 4, pending: 1, running: 1, succeeded: 1, rolledBack: 1, failed: 0, skipped: 0 });
    expect(waves.map((w) => [w.size, w.status])).toEqual([[1, 'done'], [1, 'done'], [2, 'running']]);
    expect(failures).toEqual([{ slug: 'b', operationId: 'op_b', error: 'did not roll out' }]);
  });
});

describe('planWaves', () => {
  const inRegions = (...counts: [string, number][]) => counts.flatMap(([region, n]) => Array.from({ length: n }, () => ({ region })));

  it('without waveBy, is waveEnds over every target, named canary then wave 1, 2, … (wave 1, 2, … without a canary)', () => {
    expect(planWaves(inRegions(['eu', 10], ['us', 10]), { canary: 1, waves: [10, 50, 100] })).toEqual([
      { end: 1, name: 'canary' },
      { end: 2, name: 'wave 1' },
      { end: 10, name: 'wave 2' },
      { end: 20, name: 'wave 3' },
    ]);
    expect(planWaves(inRegions(['eu', 4]), { canary: 0, waves: [50, 100] }).map((w) => w.name)).toEqual(['wave 1', 'wave 2']);
  });

  it('waving by region, gives each region its own canary and percentages, one region after the other', () => {
    const waves = planWaves(inRegions(['eu', 6], ['us', 3]), { canary: 1, waves: [50, 100], waveBy: 'region' });
    expect(waves).toEqual([
      { end: 1, region: 'eu', name: 'eu canary' },
      { end: 3, region: 'eu', name: 'eu wave 1' },
      { end: 6, region: 'eu', name: 'eu wave 2' },
      { end: 7, region: 'us', name: 'us canary' },
      { end: 8, region: 'us', name: 'us wave 1' },
      { end: 9, region: 'us', name: 'us wave 2' },
    ]);
  });

  it('waving by region with one wave of 100% and no canary, is one wave per region; a region without targets has none', () => {
    expect(planWaves(inRegions(['eu', 2], ['us', 3]), { canary: 0, waves: [100], waveBy: 'region' })).toEqual([
      { end: 2, region: 'eu', name: 'eu wave 1' },
      { end: 5, region: 'us', name: 'us wave 1' },
    ]);
    expect(planWaves([], { canary: 1, waves: [100], waveBy: 'region' })).toEqual([]);
  });

  it("names the waves in the rollout's view by region, with counts per region's wave", () => {
    const state: RolloutState = {
      status: 'running',
      strategy: { ...defaultRolloutStrategy, canary: 0, waves: [100], waveBy: 'region', regions: ['eu', 'us'] },
      targets: [
        { slug: 'a', region: 'eu', status: 'succeeded', operationId: 'op_a' },
        { slug: 'b', region: 'eu', status: 'succeeded', operationId: 'op_b' },
        { slug: 'c', region: 'us', status: 'running' },
      ],
      wave: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      runs: 1,
    };
    expect(summarize(state).waves.map(({ index, name, region, size, status }) => ({ index, name, region, size, status }))).toEqual([
      { index: 0, name: 'eu wave 1', region: 'eu', size: 2, status: 'done' },
      { index: 1, name: 'us wave 1', region: 'us', size: 1, status: 'running' },
    ]);
  });
});

describe('regionWavesProblem', () => {
  it('takes the order from strategy.regions or selector.regions, and wants them to agree when both are given', () => {
    expect(regionWavesProblem({ regions: ['eu', 'us'] }, { waveBy: 'region' })).toBeUndefined();
    expect(regionWavesProblem({}, { waveBy: 'region', regions: ['us', 'eu'] })).toBeUndefined();
    expect(regionWavesProblem({ regions: ['eu', 'us'] }, { waveBy: 'region', regions: ['us', 'eu'] })).toBeUndefined();
    expect(regionOrderOf({ regions: ['eu', 'us'] }, { regions: ['us', 'eu'] })).toEqual(['us', 'eu']);
    expect(regionOrderOf({ regions: ['eu', 'us'] }, {})).toEqual(['eu', 'us']);
  });
  it('names the field at fault: no order, a region outside the selector, a selected region left out, regions or a pause between them without waveBy', () => {
    expect(regionWavesProblem({}, { waveBy: 'region' })).toEqual({ field: 'strategy.waveBy', message: expect.stringMatching(/needs the regions/) });
    expect(regionWavesProblem({ regions: ['eu'] }, { waveBy: 'region', regions: ['eu', 'ap'] })).toEqual({
      field: 'strategy.regions',
      message: 'region ap is not in selector.regions',
    });
    expect(regionWavesProblem({ regions: ['eu', 'us'] }, { waveBy: 'region', regions: ['eu'] })).toEqual({
      field: 'strategy.regions',
      message: 'region us of selector.regions has no place in the order',
    });
    expect(regionWavesProblem({ regions: ['eu'] }, { regions: ['eu'] })).toEqual({ field: 'strategy.regions', message: expect.stringMatching(/needs waveBy/) });
    expect(regionWavesProblem({ regions: ['eu'] }, { pauseBetweenRegions: true })).toEqual({ field: 'strategy.pauseBetweenRegions', message: expect.stringMatching(/needs waveBy/) });
    expect(regionWavesProblem({ regions: ['eu'] }, {})).toBeUndefined();
  });
});
