import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { podTroubles, summariseTroubles } from '../../activities/pods';

const pod = (name: string, status: V1Pod['status'], nodeName?: string): V1Pod => ({
  metadata: { name },
  spec: { containers: [{ name: 'app', image: 'demo:1' }], ...(nodeName ? { nodeName } : {}) },
  status,
});

const waiting = (reason: string, message?: string): V1Pod['status'] => ({
  phase: 'Pending',
  containerStatuses: [{ name: 'app', image: 'demo:1', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } }],
});

const unschedulable: V1Pod['status'] = {
  phase: 'Pending',
  conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Too many pods.' }],
};

describe('what keeps pods from being ready', () => {
  it('names the scheduler reason, image pull failures and other waiting reasons; ready and terminating pods are fine', () => {
    const troubles = podTroubles([
      pod('a', unschedulable),
      pod('b', waiting('ErrImagePull', 'manifest unknown'), 'node-1'),
      pod('c', waiting('InvalidImageName'), 'node-1'),
      pod('d', waiting('CrashLoopBackOff', 'back-off 40s restarting failed container'), 'node-1'),
      pod('e', { phase: 'Running', conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }] }, 'node-1'),
      pod('f', { phase: 'Pending' }),
      pod('ready', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }, 'node-1'),
      { ...pod('leaving', unschedulable), metadata: { name: 'leaving', deletionTimestamp: new Date() } },
    ]);
    expect(troubles).toEqual([
      { pod: 'a', kind: 'unschedulable', says: 'Pending, unschedulable: 0/3 nodes are available: 3 Too many pods.' },
      { pod: 'b', kind: 'imagePull', says: 'container app ErrImagePull: manifest unknown' },
      { pod: 'c', kind: 'imagePull', says: 'container app InvalidImageName' },
      { pod: 'd', kind: 'waiting', says: 'container app CrashLoopBackOff: back-off 40s restarting failed container' },
      { pod: 'e', kind: 'notReady', says: 'Running, not ready (ContainersNotReady)' },
      { pod: 'f', kind: 'notReady', says: 'Pending, not scheduled yet' },
    ]);
  });

  it('counts pods with the same trouble together and shows at most a few troubles', () => {
    const troubles = podTroubles([
      pod('a', unschedulable),
      pod('b', unschedulable),
      pod('c', unschedulable),
      pod('d', waiting('CrashLoopBackOff'), 'n'),
      pod('e', waiting('ContainerCreating'), 'n'),
      pod('f', waiting('CreateContainerConfigError', 'secret "x" not found'), 'n'),
    ]);
    expect(summariseTroubles(troubles)).toBe(
      '3 pods (a, b, …): Pending, unschedulable: 0/3 nodes are available: 3 Too many pods.; ' +
        'pod d: container app CrashLoopBackOff; pod e: container app ContainerCreating; and 1 more',
    );
  });
});
