import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { Deps } from '../../lifecycle/deps';
import { backupById, instanceBackups, removeBackup } from '../../lifecycle/backups';
import { problems } from '../problems';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, IdOrSlugParams, PageQuery } from '../schemas';

const backupCursor = /^bak_[0-9a-z]{26}$/;
const BackupParams = Type.Object({ id: Type.String({ pattern: backupCursor.source, description: 'a backup id (bak_…)' }) }, { additionalProperties: false });

export const backupRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  app.get(
    '/instances/:idOrSlug/backups',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: "An instance's backups, newest first",
        description: 'Every backup ever taken of the instance, including running, failed and expired ones; `POST` to the same path takes one.',
        tags: ['backups'],
        params: IdOrSlugParams,
        querystring: PageQuery,
        response: { 200: Type.Ref('BackupPage', { description: 'A page of backups' }), ...problems(400, 404) },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_SIZE, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, backupCursor) : undefined;
      const page = await instanceBackups(deps, request.params.idOrSlug, { limit, after }, request.caller!.scope);
      const last = page.items.at(-1);
      return { items: page.items, nextCursor: page.more && last ? encodeCursor(last.id) : null };
    },
  );

  app.get(
    '/backups/:id',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'One backup: its parts with sizes and SHA-256, and where it stands',
        tags: ['backups'],
        params: BackupParams,
        response: { 200: Type.Ref('Backup', { description: 'The backup' }), ...problems(404) },
      },
    },
    async (request) => backupById(deps, request.params.id, request.caller!.scope),
  );

  app.delete(
    '/backups/:id',
    {
      config: { role: 'admin', ownerScoped: true },
      schema: {
        summary: 'Remove a backup (its objects are deleted, its record stays as expired)',
        description:
          'Refused (409) while the backup is being taken, and for the only completed backup of an instance that is deleting or deleted: ' +
          'that backup is the way back.',
        tags: ['backups'],
        params: BackupParams,
        response: { 200: Type.Ref('Backup', { description: 'The backup, now expired' }), ...problems(404, 409) },
      },
    },
    async (request) => removeBackup(deps, request.params.id, request.caller!.name, request.caller!.scope),
  );
};
