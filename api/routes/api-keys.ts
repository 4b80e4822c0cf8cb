import { NameTaken } from '../../domain/errors';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { isUniqueViolation } from '../../db/errors';
import { newId } from '../../db/ids';
import { recordEvent } from '../../db/events';
import { type ApiKeyRow, insertApiKey, listApiKeys, revokeApiKey } from '../../db/api-keys';
import { BOOTSTRAP_ADMIN, forgetKey, generateKey } from '../auth';
import { Problem, problems } from '../problems';
import type { Deps } from '../../lifecycle/deps';
import { IdParams, Role } from '../schemas';
import { textPattern } from '../../domain/validation';

type KeyRow = ApiKeyRow;
const view = (row: KeyRow) => ({
  id: row.id,
  name: row.name,
  role: row.role,
  prefix: row.prefix,
  ...(row.owner !== null ? { owner: row.owner } : {}),
  createdAt: row.createdAt.toISOString(),
  ...(row.revokedAt ? { revokedAt: row.revokedAt.toISOString() } : {}),
});

export const Me = Type.Object(
  {
    name: Type.String({ description: "the key's name (the actor in the audit trail)" }),
    role: Role,
    owner: Type.Optional(Type.String({ description: 'the ownerEmail the key is bound to, if it is' })),
  },
  { $id: 'Me' },
);

export const apiKeyRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { db }) => {
  // Any key may ask who it is: clients (the dashboard) offer only what its role allows.
  app.get(
    '/me',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'The calling API key: its name, role and the owner it is bound to',
        tags: ['api-keys'],
        response: { 200: Type.Ref('Me', { description: 'Who the caller is' }) },
      },
    },
    async (request) => {
      const { name, role, scope } = request.caller!;
      return { name, role, ...(scope.owner === undefined ? {} : { owner: scope.owner }) };
    },
  );

  app.post(
    '/api-keys',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Create an API key; the key is in this response only',
        tags: ['api-keys'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9 ._@-]*$', description: 'who uses it; shown as the actor in the audit trail' }),
            role: Role,
            owner: Type.Optional(
              Type.String({
                format: 'email',
                maxLength: 254,
                pattern: textPattern,
                description:
                  "binds the key to one owner (an instance's ownerEmail, exactly as stored): it lists and acts on that owner's instances " +
                  '(and their operations, backups, events, usage, health and invoices) only, and is refused the fleet-wide routes',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('ApiKeyCreated', { description: 'The key, with its secret shown this once' }), ...problems(400, 409) },
      },
    },
    async (request, reply) => {
      const { name, role, owner } = request.body;
      if (name === BOOTSTRAP_ADMIN) throw new NameTaken(`"${BOOTSTRAP_ADMIN}" is the configured admin key's name`);
      const secret = generateKey();
      let row: KeyRow;
      try {
        row = await insertApiKey(db, { id: newId('key'), name, role, hash: secret.hash, prefix: secret.prefix, ...(owner === undefined ? {} : { owner }) });
      } catch (err) {
        if (isUniqueViolation(err)) throw new NameTaken(`a live API key is already named "${name}"`, [{ field: 'name', message: 'is taken' }]);
        throw err;
      }
      await recordEvent(db, { actor: request.caller!.name, action: 'api-key.create', outcome: 'succeeded', message: `${row.id} "${name}" (${role}${owner === undefined ? '' : `, bound to ${owner}`})` });
      return reply.code(201).header('location', `/v1/api-keys/${row.id}`).send({ apiKey: view(row), key: secret.key });
    },
  );

  app.get(
    '/api-keys',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'All API keys, revoked ones included (never the secrets)',
        tags: ['api-keys'],
        response: { 200: Type.Ref('ApiKeyList', { description: 'Every API key' }) },
      },
    },
    async () => ({ items: (await listApiKeys(db)).map(view) }),
  );

  app.delete(
    '/api-keys/:id',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Revoke an API key (idempotent); it stops working at once',
        tags: ['api-keys'],
        params: IdParams,
        response: { 200: Type.Ref('ApiKeyRevoked', { description: 'The key, revoked' }), ...problems(404) },
      },
    },
    async (request) => {
      const row = await revokeApiKey(db, request.params.id);
      if (!row) throw new Problem(404, `no API key "${request.params.id}"`);
      forgetKey(db, row.hash);
      await recordEvent(db, { actor: request.caller!.name, action: 'api-key.revoke', outcome: 'succeeded', message: `${row.id} "${row.name}"` });
      return { apiKey: view(row) };
    },
  );
};
