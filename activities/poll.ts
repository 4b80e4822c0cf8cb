// The one way an activity waits for the outside world. Most waits on the testbed and many in
// production end within a second (a certificate from a CA issuer, a Deployment of a small app):
// starting at a quarter of a second and doubling up to the cap answers those at once, while a long
// wait (a minute of Route 53 propagation) still costs only one request per cap.
import { Context } from '@temporalio/activity';
import type { WaitHeartbeat } from '../domain/instance';

const FIRST_POLL_MS = 250;

/**
 * Looks until `look` answers true. Otherwise it says why it still waits, and that is heartbeated
 * before the pause: the live step shows its `detail`, and a cancellation delivered in answer to
 * the heartbeat ends the pause. `look` throws to give up; errors are not retried here (that is the
 * activity's retry policy). The overall bound is the activity's own timeouts unless `look` keeps a
 * deadline itself. `attempt` counts looks from 0.
 */
export async function pollUntil<H extends WaitHeartbeat>(look: (attempt: number) => Promise<true | H>, capMs: number): Promise<void> {
  const ctx = Context.current();
  for (let attempt = 0; ; attempt++) {
    const waiting = await look(attempt);
    if (waiting === true) return;
    ctx.heartbeat(waiting);
    await ctx.sleep(Math.min(capMs, FIRST_POLL_MS * 2 ** Math.min(attempt, 16)));
  }
}
