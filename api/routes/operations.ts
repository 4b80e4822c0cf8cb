import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { getOperation } from '../../db/operations';
import type { Scope } from '../../domain/api-keys';
import type { Deps } from '../../lifecycle/deps';
import { cancel, operationView } from '../../lifecycle/live';
import { Problem, problems } from '../problems';
import { IdParams } from '../schemas';

export const operationRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  /** The operation, if the caller's scope reaches its instance: else a 404 like one that does not exist. */
  async function found(id: string, scope: Scope) {
    const row = await getOperation(deps.db, id, scope);
    if (!row) throw new Problem(404, `no operation "${id}"`);
    return row;
  }

  app.get(
    '/operations/:id',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'One operation; while it runs, its steps come live from the workflow',
        tags: ['operations'],
        params: IdParams,
        response: { 200: Type.Ref('Operation', { description: 'The operation' }), ...problems(404) },
      },
    },
    async (request) => operationView(deps, await found(request.params.id, request.caller!.scope)),
  );

  app.post(
    '/operations/:id/cancel',
    {
      config: { role: 'operator', ownerScoped: true },
      schema: {
        summary: 'Ask a running operation to stop; it undoes what it did and ends cancelled',
        tags: ['operations'],
        params: IdParams,
        response: { 202: Type.Ref('OperationAccepted', { description: 'Cancellation requested; the operation as it was' }), ...problems(404, 409) },
      },
    },
    async (request, reply) => {
      const operation = await cancel(deps, await found(request.params.id, request.caller!.scope), request.caller!.name);
      return reply.code(202).send({ operation });
    },
  );
};
