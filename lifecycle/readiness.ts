// Whether the processes that run the lifecycle can serve: the catalogue and Temporal answer.
import type { Deps } from './deps';
import { QUERY_DEADLINE_MS } from './runs';

/** Problems that keep the API from serving: empty when the catalogue and Temporal answer. */
export async function readinessProblems(deps: Deps): Promise<string[]> {
  const deadline = Date.now() + QUERY_DEADLINE_MS;
  const checks = await Promise.allSettled([
    Promise.race([
      deps.db.$client`select 1`,
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), QUERY_DEADLINE_MS).unref()),
    ]),
    deps.temporal.withDeadline(deadline, () =>
      deps.temporal.workflowService.describeNamespace({ namespace: deps.config.temporalNamespace }),
    ),
  ]);
  const names = ['catalogue', 'temporal'];
  return checks.flatMap((c, i) =>
    c.status === 'rejected' ? [`${names[i]} unreachable: ${c.reason instanceof Error ? c.reason.message : String(c.reason)}`] : [],
  );
}
