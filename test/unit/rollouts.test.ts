// The arithmetic of a rollout's waves and counts (pure).
import { describe, expect, it } from 'vitest';
import { defaultRolloutStrategy, summarize, waveEnds, wavesProblem, type RolloutState } from '../../domain/rollouts';

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
