// Outbound webhooks: subscriptions (admin) and their delivery log. The secret that signs every
// delivery is in the create response only.
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { refusedTarget } from '../../activities/webhook-targets';
import { newId } from '../../db/ids';
import { recordEvent } from '../../db/events';
import { deleteWebhook, getWebhook, insertWebhook, listDeliveries, listWebhooks, type WebhookRow } from '../../db/webhooks';
import type { Deps } from '../../lifecycle/deps';
import { Problem, problems } from '../problems';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, IdParams, PageQuery, WebhookEventType } from '../schemas';
import { textPattern } from '../../domain/validation';

const view = (row: WebhookRow) => ({
  id: row.id,
  url: row.url,
  events: row.events,
  ...(row.description ? { description: row.description } : {}),
  createdAt: row.createdAt.toISOString(),
});

const deliveryCursor = /^dlv_[0-9a-z]{26}$/;

export const webhookRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { db, config }) => {
  app.post(
    '/webhooks',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Subscribe a URL to events; the signing secret is in this response only',
        tags: ['webhooks'],
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://[^\\s]+$', description: 'http or https; private addresses are refused unless allowed' }),
            events: Type.Array(WebhookEventType, { minItems: 1, maxItems: 20, uniqueItems: true }),
            description: Type.Optional(Type.String({ minLength: 1, maxLength: 500, pattern: textPattern })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('WebhookCreated', { description: 'The webhook, with its secret shown this once' }), ...problems(400, 422) },
      },
    },
    async (request, reply) => {
      const { url, events, description } = request.body;
      const refused = await refusedTarget(url, config.webhookAllowPrivate);
      if (refused) throw new Problem(422, `the webhook URL ${refused}`, { errors: [{ field: 'url', message: refused }] });
      const secret = `whsec_${randomBytes(32).toString('base64url')}`;
      const row = await insertWebhook(db, { id: newId('whk'), url, events, description: description ?? null, secret });
      await recordEvent(db, { actor: request.caller!.name, action: 'webhook.create', outcome: 'succeeded', message: `${row.id} ${url}` });
      return reply.code(201).header('location', `/v1/webhooks/${row.id}`).send({ webhook: view(row), secret });
    },
  );

  app.get(
    '/webhooks',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Every webhook (never the secrets)',
        tags: ['webhooks'],
        response: { 200: Type.Ref('WebhookList', { description: 'Every webhook' }) },
      },
    },
    async () => ({ items: (await listWebhooks(db)).map(view) }),
  );

  app.delete(
    '/webhooks/:id',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Delete a webhook and its delivery log; deliveries still retrying stop',
        tags: ['webhooks'],
        params: IdParams,
        response: { 200: Type.Ref('WebhookDeleted', { description: 'The webhook, deleted' }), ...problems(404) },
      },
    },
    async (request) => {
      const row = await deleteWebhook(db, request.params.id);
      if (!row) throw new Problem(404, `no webhook "${request.params.id}"`);
      await recordEvent(db, { actor: request.caller!.name, action: 'webhook.delete', outcome: 'succeeded', message: `${row.id} ${row.url}` });
      return { webhook: view(row) };
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: { role: 'admin' },
      schema: {
        summary: "A webhook's deliveries, newest first: attempts, the receiver's last answer, when it was delivered",
        tags: ['webhooks'],
        params: IdParams,
        querystring: PageQuery,
        response: { 200: Type.Ref('DeliveryPage', { description: 'A page of deliveries' }), ...problems(400, 404) },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_SIZE, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, deliveryCursor) : undefined;
      if (!(await getWebhook(db, request.params.id))) throw new Problem(404, `no webhook "${request.params.id}"`);
      const page = await listDeliveries(db, request.params.id, { limit, after });
      const last = page.items.at(-1);
      return {
        items: page.items.map((d) => ({
          id: d.id,
          eventId: d.eventId,
          type: d.type,
          status: d.status,
          attempts: d.attempts,
          ...(d.lastStatusCode !== null ? { lastStatusCode: d.lastStatusCode } : {}),
          ...(d.lastError ? { lastError: d.lastError } : {}),
          createdAt: d.createdAt.toISOString(),
          ...(d.deliveredAt ? { deliveredAt: d.deliveredAt.toISOString() } : {}),
        })),
        nextCursor: page.more && last ? encodeCursor(last.id) : null,
      };
    },
  );
};
