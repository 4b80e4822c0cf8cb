import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { Deps } from '../../lifecycle/deps';
import { readinessProblems } from '../../lifecycle/readiness';
import { Problem, problems } from '../problems';

/**
 * The dependency a readiness problem is about (`catalogue unreachable: <error>` → `catalogue`).
 * /readyz is public, and an error's text names hosts, ports and users: only the name leaves.
 */
const dependencyOf = (problem: string): string => /^(\w+) unreachable:/.exec(problem)?.[1] ?? 'a dependency';

export const healthRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is up',
        tags: ['health'],
        security: [],
        response: { 200: Type.Ref('Health', { description: 'Up' }) },
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
        response: {
          200: Type.Ref('Readiness', { description: 'Ready to serve' }),
          ...problems(503),
        },
      },
    },
    async (request) => {
      const failing = await readinessProblems(deps);
      if (failing.length > 0) {
        request.log.warn({ problems: failing }, 'not ready');
        throw new Problem(503, `unreachable: ${failing.map(dependencyOf).join(', ')}`);
      }
      return { status: 'ready' as const };
    },
  );
};
