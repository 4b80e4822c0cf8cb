import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { listPlans } from '../../db/plans';
import type { Deps } from '../../lifecycle/deps';

export const planRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { db }) => {
  app.get(
    '/plans',
    {
      // The price list, the same for every caller: no fleet data.
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'Plans an instance can be provisioned on',
        tags: ['plans'],
        response: { 200: Type.Ref('PlanList', { description: 'Every plan, cheapest first' }) },
      },
    },
    async () => ({ items: await listPlans(db) }),
  );
};
