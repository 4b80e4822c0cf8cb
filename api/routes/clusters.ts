// The catalogue of clusters (multi-cluster installs): what each holds and whether it takes new
// instances. Clusters register themselves (their workers); operators drain and undrain them.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { clusterNamePattern, clusterStatuses } from '../../domain/clusters';
import { regionPattern } from '../../domain/validation';
import { clusterView, drainCluster, listClusterViews } from '../../lifecycle/clusters';
import type { Deps } from '../../lifecycle/deps';
import { problems } from '../problems';

const Resources = Type.Object({ cpu: Type.Number({ description: 'cores' }), memoryBytes: Type.Number() });

export const Cluster = Type.Object(
  {
    name: Type.String(),
    region: Type.String(),
    labels: Type.Record(Type.String(), Type.String()),
    status: Type.Enum(clusterStatuses, {
      description: '`online`: its worker reported lately and it takes new instances; `draining`: it takes none; `offline`: no report for three periods',
    }),
    drained: Type.Boolean(),
    reportedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: "its worker's last capacity report" }),
    capacity: Type.Union(
      [
        Type.Object({
          allocatable: Resources,
          promised: Resources,
          free: Type.Object({ cpu: Type.Number(), memoryBytes: Type.Number() }, { description: 'allocatable × overcommit ratio − promised' }),
        }),
        Type.Null(),
      ],
      { description: 'from its last report; null before the first' },
    ),
    instanceCount: Type.Integer({ description: 'instances placed in it that are not deleted' }),
  },
  { $id: 'Cluster' },
);

const ClusterList = Type.Object({ items: Type.Array(Type.Ref('Cluster')) }, { $id: 'ClusterList' });
export const clusterSchemas = [Cluster, ClusterList];

const NameParams = Type.Object({ name: Type.String({ pattern: clusterNamePattern, maxLength: 63 }) });

export const clusterRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  app.get(
    '/clusters',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Clusters instances are placed in',
        tags: ['clusters'],
        querystring: Type.Object({ region: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: regionPattern })) }, { additionalProperties: false }),
        response: { 200: Type.Ref('ClusterList', { description: 'Every registered cluster (of one region), by name' }), ...problems(400) },
      },
    },
    async (request) => ({ items: await listClusterViews(deps, { region: request.query.region }) }),
  );

  app.get(
    '/clusters/:name',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One cluster: region, labels, status, capacity and instance count',
        tags: ['clusters'],
        params: NameParams,
        response: { 200: Type.Ref('Cluster', { description: 'The cluster' }), ...problems(400, 404) },
      },
    },
    async (request) => clusterView(deps, request.params.name),
  );

  for (const [action, drained] of [
    ['drain', true],
    ['undrain', false],
  ] as const) {
    app.post(
      `/clusters/:name/${action}`,
      {
        config: { role: 'admin' },
        schema: {
          summary: drained ? 'Drain a cluster: it takes no new instance (move its instances out to retire it)' : 'Undrain a cluster: it takes new instances again',
          tags: ['clusters'],
          params: NameParams,
          response: { 200: Type.Ref('Cluster', { description: 'The cluster as it is now' }), ...problems(400, 403, 404) },
        },
      },
      async (request) => drainCluster(deps, request.params.name, drained),
    );
  }
};
