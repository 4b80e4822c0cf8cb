// Outbound webhooks: turning an audit event into webhook events, and delivering them. Each
// delivery is a workflow of its own (`deliverWebhook`) whose one activity sends the request; the
// activity's retry policy is the backoff, so a receiver that is down for hours, or a worker that
// restarts meanwhile, still gets the event. The webhook's secret is read here, at send time, and
// never travels through a workflow's arguments or history.
import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { listedInstanceView } from '../lifecycle/views';
import { findInstance } from '../db/instances';
import { countDeliveryAttempt, deliveryToSend, ensureDelivery, ensureWebhookEvent, giveUpDelivery, recordDeliveryAttempt, webhooksFor } from '../db/webhooks';
import type { Config } from '../domain/config';
import type { InstanceStatus } from '../domain/instance';
import { webhookEventsFor } from '../domain/operation-events';
import type { WebhookEventType } from '../domain/webhooks';
import { errorTypes, permanent } from './errors';
import type { ActivityDeps } from './deps';
import { isPrivateAddress } from './webhook-targets';

/** A receiver that has not answered within this is counted as a failed attempt, and retried. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * A DNS lookup for the request itself that refuses private addresses: the name is resolved once,
 * here, and the request goes to exactly the address that was checked (no second resolution that a
 * rebinding DNS server could answer differently).
 */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  lookup(hostname, { all: true, verbatim: true, family: options.family as number | undefined }).then(
    (addresses) => {
      const refused = addresses.find((a) => isPrivateAddress(a.address));
      if (refused) {
        callback(permanent(`${hostname} resolves to ${refused.address}, a private address`, errorTypes.webhookTargetRefused), '', 0);
      } else if (options.all) {
        (callback as unknown as (err: null, addresses: { address: string; family: number }[]) => void)(null, addresses);
      } else {
        callback(null, addresses[0]!.address, addresses[0]!.family);
      }
    },
    (err: NodeJS.ErrnoException) => callback(err, '', 0),
  );
};

// ---- signing and sending

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as receivers verify it (README). */
export function signature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** One POST; resolves with the status code, rejects when no answer came (refused, reset, timeout). */
function post(url: URL, headers: Record<string, string>, body: string, allowPrivate: boolean): Promise<number> {
  const send = url.protocol === 'https:' ? https.request : http.request;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!allowPrivate && isIP(host) && isPrivateAddress(host)) {
    return Promise.reject(permanent(`${host} is a private address`, errorTypes.webhookTargetRefused));
  }
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
        ...(allowPrivate ? {} : { lookup: publicOnlyLookup }),
      },
      (response) => {
        // Only the status matters; the body is read and dropped so the socket is released.
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const describe = (err: unknown): string =>
  err instanceof Error ? (err.name === 'TimeoutError' || err.name === 'AbortError' ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000}s` : err.message) : String(err);

// ---- events

export interface DeliveryInput {
  deliveryId: string;
  retryHours: number;
}

export const deliveryWorkflowId = (eventId: string, webhookId: string) => `webhook:${eventId}:${webhookId}`;

/**
 * Records the event of `type` (once per `key`) and starts its delivery to every subscribed
 * webhook. Safe to run again: the event, each delivery and each delivery's workflow id are keyed,
 * so a retry starts nothing twice.
 */
export async function publishWebhookEvent(
  deps: Pick<ActivityDeps, 'db' | 'temporal' | 'config'>,
  event: { key: string; type: WebhookEventType; data: Record<string, unknown> },
): Promise<void> {
  const subscribed = await webhooksFor(deps.db, event.type);
  if (subscribed.length === 0) return;
  const row = await ensureWebhookEvent(deps.db, {
    key: `${event.key}:${event.type}`,
    type: event.type,
    payload: (id) => ({ id, type: event.type, createdAt: new Date().toISOString(), data: event.data }),
  });
  for (const webhook of subscribed) {
    const delivery = await ensureDelivery(deps.db, row.id, webhook.id);
    await startDelivery(deps.temporal, deps.config, deliveryWorkflowId(row.id, webhook.id), {
      deliveryId: delivery.id,
      retryHours: deps.config.webhookRetryHours,
    });
  }
}

async function startDelivery(temporal: ActivityDeps['temporal'], config: Config, workflowId: string, input: DeliveryInput): Promise<void> {
  try {
    await temporal.workflow.start('deliverWebhook', { workflowId, taskQueue: config.taskQueue, args: [input] });
  } catch (err) {
    // Started by an earlier try of the same publish (the default reuse policy refuses a second
    // run of a completed id too): the delivery is already under way or done.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/** The webhook events an operation's audit event means, published with the instance as it is now. */
export async function publishOutcome(
  deps: Pick<ActivityDeps, 'db' | 'temporal' | 'config'>,
  audit: { key: string; instanceId: string; operationId: string; action: string; outcome: string; message?: string },
): Promise<void> {
  const found = await findInstance(deps.db, audit.instanceId);
  const types = webhookEventsFor({ action: audit.action, outcome: audit.outcome, instanceStatus: found?.instance.status as InstanceStatus | undefined });
  if (!found || types.length === 0) return;
  const instance = listedInstanceView(deps.config, { instance: found.instance, running: undefined });
  const operation = {
    id: audit.operationId,
    kind: audit.action,
    status: audit.outcome,
    ...(audit.message ? { error: audit.message } : {}),
  };
  for (const type of types) await publishWebhookEvent(deps, { key: audit.key, type, data: { instance, operation } });
}

// ---- the activities

export function createWebhookActivities(deps: Pick<ActivityDeps, 'db' | 'config'>) {
  return {
    /**
     * One attempt at a delivery. A 2xx is success; anything else (a status, no answer within
     * 10 s, a refused connection) is recorded on the delivery and thrown to be retried with
     * backoff. A deleted webhook ends the delivery quietly; a target that became private is
     * refused for good.
     */
    async deliverWebhook(deliveryId: string): Promise<'delivered' | 'webhook-deleted'> {
      const found = await deliveryToSend(deps.db, deliveryId);
      if (!found) return 'webhook-deleted';
      if (found.delivery.status === 'delivered') return 'delivered';
      const { webhook, event } = found;
      await countDeliveryAttempt(deps.db, deliveryId);
      const body = JSON.stringify(event.payload);
      const headers = {
        'user-agent': 'Shipyard-Webhooks/1',
        'shipyard-event': event.type,
        'shipyard-delivery': event.id,
        'shipyard-signature': signature(webhook.secret, body, Math.floor(Date.now() / 1000)),
      };
      const target = new URL(webhook.url);
      // For messages, which reach the workflow's history: without credentials or query string.
      const shown = `${target.origin}${target.pathname}`;
      let statusCode: number;
      try {
        statusCode = await post(target, headers, body, deps.config.webhookAllowPrivate);
      } catch (err) {
        await recordDeliveryAttempt(deps.db, deliveryId, { error: describe(err), delivered: false });
        if (err instanceof ApplicationFailure) throw err;
        throw new Error(`delivery to ${shown} failed: ${describe(err)}`);
      }
      const delivered = statusCode >= 200 && statusCode < 300;
      await recordDeliveryAttempt(deps.db, deliveryId, {
        statusCode,
        ...(delivered ? {} : { error: `the receiver answered ${statusCode}` }),
        delivered,
      });
      if (!delivered) throw new Error(`${shown} answered ${statusCode}`);
      return 'delivered';
    },

    /** The retry window closed: the delivery log says so. */
    async giveUpWebhookDelivery(deliveryId: string): Promise<void> {
      await giveUpDelivery(deps.db, deliveryId);
    },
  };
}
