import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface MeteringInput {
  /** The metering cursor this run advances (the schedule's id: one per deployment). */
  cursor: string;
  /** Hours closed before the run continues as new, so a long catch-up keeps a short history. */
  hoursPerRun: number;
}

const metering = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/**
 * The hourly metering pass: samples tenant database sizes into the current hour, then closes
 * every hour that has ended and is not metered yet, oldest first — after downtime that is every
 * hour missed. Each hour is closed by one activity that writes its ledger rows and moves the
 * cursor in one transaction, so a pass cut short anywhere resumes where it stopped.
 */
export async function meterUsage(input: MeteringInput): Promise<{ hoursMetered: number; rowsWritten: number }> {
  await metering.sampleStorage();
  let hoursMetered = 0;
  let rowsWritten = 0;
  for (;;) {
    const batch = await metering.hoursToMeter(input.cursor, Math.min(24, input.hoursPerRun - hoursMetered));
    for (const hour of batch.hours) {
      rowsWritten += await metering.meterHour(input.cursor, hour);
      hoursMetered += 1;
    }
    if (!batch.more) return { hoursMetered, rowsWritten };
    if (hoursMetered >= input.hoursPerRun || workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof meterUsage>(input);
    }
  }
}
