// One event's delivery to one webhook. The activity's retry policy is the backoff schedule: an
// attempt every few seconds at first, doubling up to an hour apart, for SHIPYARD_WEBHOOK_RETRY_HOURS.
// Its arguments are ids only; the body and the secret are read by the activity.
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DeliveryInput } from '../activities/webhooks';

const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

export async function deliverWebhook({ deliveryId, retryHours }: DeliveryInput): Promise<string> {
  const { deliverWebhook: attempt } = proxyActivities<Activities>({
    // The request itself times out after 10 s; the rest is the catalogue reads and writes around it.
    startToCloseTimeout: '30s',
    scheduleToCloseTimeout: `${retryHours}h`,
    retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1h' },
  });
  try {
    return await attempt(deliveryId);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    await bookkeeping.giveUpWebhookDelivery(deliveryId);
    return 'failed';
  }
}
