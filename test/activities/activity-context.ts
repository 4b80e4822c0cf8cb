// Runs an activity function inside a Temporal activity Context without a worker or server, the
// way @temporalio/testing's MockActivityEnvironment does. That package is not a dependency (it
// would only be needed for this), and its test-server download cannot work on this machine.
import { asyncLocalStorage, Context, type Info } from '@temporalio/activity';
import { noopMetricMeter } from '@temporalio/common';

export interface ActivityRun<T> {
  result: T;
  heartbeats: unknown[];
}

export interface ActivityContextOptions {
  /** As if this were a retry: what the previous attempt last heartbeated. */
  heartbeatDetails?: unknown;
  attempt?: number;
  /** Sees every heartbeat as it is sent (also of a run that then fails, whose result is lost). */
  onHeartbeat?: (details: unknown) => void;
}

type Logger = ConstructorParameters<typeof Context>[5];

const quietLogger: Logger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export async function inActivity<T>(fn: () => Promise<T>, options: ActivityContextOptions = {}): Promise<ActivityRun<T>> {
  const heartbeats: unknown[] = [];
  const info = {
    taskToken: new Uint8Array(),
    base64TaskToken: '',
    activityId: 'test',
    activityType: 'test',
    activityNamespace: 'default',
    attempt: options.attempt ?? 1,
    isLocal: false,
    scheduledTimestampMs: Date.now(),
    scheduleToCloseTimeoutMs: 0,
    startToCloseTimeoutMs: 0,
    currentAttemptScheduledTimestampMs: Date.now(),
    heartbeatDetails: options.heartbeatDetails,
    taskQueue: 'test',
    namespace: 'default',
    inWorkflow: false,
  } as unknown as Info;
  const abort = new AbortController();
  // Never settles: these runs are not cancelled. Caught so an unhandled rejection cannot occur.
  const cancelled = new Promise<never>(() => undefined);
  const context = new Context(
    info,
    cancelled,
    abort.signal,
    (details?: unknown) => {
      heartbeats.push(details);
      options.onHeartbeat?.(details);
    },
    undefined,
    quietLogger,
    noopMetricMeter,
    {},
  );
  const result = await asyncLocalStorage.run(context, fn);
  return { result, heartbeats };
}

