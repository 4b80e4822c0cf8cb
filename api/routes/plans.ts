import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { listPlans } from '../../db/catalogue';
import type { Deps } from '../operations';
import { problems } from '../problems';

export const planRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { db }) => {
  app.get(
    '/plans',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Plans an instance can be provisioned on',
        tags: ['plans'],
        response: { 200: Type.Object({ items: Type.Array(Type.Ref('Plan')) }), ...problems(401, 403, 500) },
      },
    },
    async () => ({ items: await listPlans(db) }),
  );
};
