// How often a wait looks again. Most waits on the testbed and many in production end within a
// second (a certificate from a CA issuer, a Deployment of a small app): starting at a quarter of a
// second and doubling up to the cap answers those at once, while a long wait (a minute of Route 53
// propagation) still costs only one request per cap.
import { Context } from '@temporalio/activity';

export const FIRST_POLL_MS = 250;

/** Sleeps before the next look (the `attempt`th, from 0), cancellable through the activity's context. */
export function pollDelay(attempt: number, capMs: number): Promise<void> {
  const delay = Math.min(capMs, FIRST_POLL_MS * 2 ** Math.min(attempt, 16));
  return Context.current().sleep(delay);
}
