// What a set of workflow runs cost Temporal, read from their histories: events, workflow tasks,
// activity tasks (every attempt), local activities, and actions as Temporal Cloud counts them
// (https://docs.temporal.io/cloud/actions): the start, each activity attempt, each workflow task
// that recorded local activities (all of one task's count once), timers, signals, child workflows,
// search-attribute upserts and updates. Two billed kinds leave no event and are not counted here:
// activity heartbeats that reach the server, and queries.
import type { Client } from '@temporalio/client';
import protos from '@temporalio/proto';

const { EventType } = protos.temporal.api.enums.v1;

export interface TemporalWork {
  runs: number;
  events: number;
  workflowTasks: number;
  activityTasks: number;
  localActivities: number;
  actions: number;
}

const empty = (): TemporalWork => ({ runs: 0, events: 0, workflowTasks: 0, activityTasks: 0, localActivities: 0, actions: 0 });

async function historyOf(client: Client, namespace: string, workflowId: string, runId: string | undefined) {
  const events: protos.temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({ namespace, execution: { workflowId, runId }, nextPageToken });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

/** Counts one run's history into `into`. */
function count(events: protos.temporal.api.history.v1.IHistoryEvent[], into: TemporalWork): void {
  into.runs += 1;
  into.events += events.length;
  let markersInTask = false;
  for (const event of events) {
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
      case EventType.EVENT_TYPE_TIMER_STARTED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        into.actions += 1;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        into.workflowTasks += 1;
        markersInTask = false;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        // Written once, when the activity ends, with the attempt that ended it: every attempt is billed.
        const attempts = event.activityTaskStartedEventAttributes?.attempt ?? 1;
        into.activityTasks += attempts;
        into.actions += attempts;
        break;
      }
      case EventType.EVENT_TYPE_MARKER_RECORDED:
        if (event.markerRecordedEventAttributes?.markerName === 'core_local_activity') {
          into.localActivities += 1;
          if (!markersInTask) into.actions += 1;
          markersInTask = true;
        }
        break;
      default:
    }
  }
}

/** The Temporal work of `runs`, read `parallel` histories at a time. */
export async function temporalWork(
  client: Client,
  namespace: string,
  runs: { workflowId: string; runId?: string | null }[],
  parallel = 8,
): Promise<TemporalWork> {
  const total = empty();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, runs.length) }, async () => {
      while (next < runs.length) {
        const run = runs[next++]!;
        count(await historyOf(client, namespace, run.workflowId, run.runId ?? undefined), total);
      }
    }),
  );
  return total;
}

/** "per op: 31.0 events, 6.0 workflow tasks, 3.0 activity tasks, 10.0 local activities, 9.0 actions" */
export function describeWork(work: TemporalWork, per = work.runs): string {
  const each = (n: number) => (n / Math.max(1, per)).toFixed(1);
  return (
    `Temporal per operation (${work.runs} runs): ${each(work.events)} history events, ${each(work.workflowTasks)} workflow tasks, ` +
    `${each(work.activityTasks)} activity tasks, ${each(work.localActivities)} local activities, ${each(work.actions)} actions`
  );
}
