import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { readinessProblems, type Deps } from '../operations';
import { Problem, problems } from '../problems';

export const healthRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is up',
        tags: ['health'],
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'The catalogue and Temporal answer',
        tags: ['health'],
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ready') }), ...problems(503) },
      },
    },
    async () => {
      const failing = await readinessProblems(deps);
      if (failing.length > 0) throw new Problem(503, failing.join('; '));
      return { status: 'ready' as const };
    },
  );
};
