// Activity proxies with the timeouts and retry policy each kind of step needs. Type-only
// import: the activities' Node code never enters the workflow bundle.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { OperationSettings } from '../domain/operations';

// Transient faults (API server restarting, a dropped connection) are retried for a while;
// permanent ones are thrown as non-retryable by the activities and fail the step at once.
const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s' } as const;

// A cancel waits until the activity has really stopped: with the default (TRY_CANCEL) the
// workflow would hear "cancelled" at once while the activity still runs, and its compensation
// could run before the activity's late side effect (a database, a namespace, a DNS record, an
// applied spec) lands — and so leave it behind.
const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/** Calls that change or read one thing and return: a dead worker is noticed within 30 s. */
export const quick = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry,
  cancellationType,
});

/** Waits on the outside world (rollouts, certificates, namespace deletion, DNS sync): they heartbeat. */
export function waiting(settings: OperationSettings) {
  const bound = settings.rolloutTimeoutSeconds + 60;
  return proxyActivities<Activities>({
    startToCloseTimeout: `${bound}s`,
    scheduleToCloseTimeout: `${bound * 2}s`,
    heartbeatTimeout: '15s',
    retry,
    cancellationType,
  });
}
