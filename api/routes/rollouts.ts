import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { rolloutStatuses } from '../../domain/rollouts';
import { getRollout, listRollouts, startRollout, steerRollout, type RolloutAction } from '../../lifecycle/rollouts';
import type { Deps } from '../../lifecycle/deps';
import { problems } from '../problems';
import { DEFAULT_PAGE_SIZE, IdParams, pageQuery, Slug, Version } from '../schemas';
import { clusterNamePattern, regionPattern, textPattern } from '../../domain/validation';

const Names = (item: ReturnType<typeof Type.String>, description: string) =>
  Type.Optional(Type.Array(item, { minItems: 1, maxItems: 1000, uniqueItems: true, description }));

const Region = Type.String({ minLength: 1, maxLength: 64, pattern: regionPattern });

const Selector = Type.Object(
  {
    plans: Names(Type.String({ minLength: 1, maxLength: 64, pattern: textPattern }), 'instances on one of these plans'),
    slugs: Names(Slug, 'only these instances'),
    versions: Names(Version, 'instances now at one of these versions'),
    clusters: Names(Type.String({ minLength: 1, maxLength: 63, pattern: clusterNamePattern }), 'multi-cluster: instances placed in one of these clusters'),
    regions: Names(Region, "multi-cluster: instances placed in a cluster of one of these regions (in the order of the waves, with strategy.waveBy 'region')"),
  },
  { additionalProperties: false, description: 'every part given must match; none = the whole fleet' },
);

const StrategyFields = {
  canary: Type.Integer({ minimum: 0, maximum: 1000, description: 'instances upgraded first, before any wave (default 1)' }),
  waves: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
    minItems: 1,
    maxItems: 20,
    description: 'cumulative % of the selected fleet, increasing, ending at 100 (default [10, 50, 100])',
  }),
  maxParallel: Type.Integer({ minimum: 1, maximum: 500, description: 'upgrades in flight at most (default 10)' }),
  failureBudget: Type.Integer({ minimum: 0, description: 'rolled-back + failed upgrades tolerated; one more halts (default 0)' }),
  pauseAfterCanary: Type.Boolean({ description: 'pause once the canary is done (default false)' }),
  waitBetweenWavesSeconds: Type.Integer({ minimum: 0, maximum: 86_400, description: 'default 0' }),
};

/** Multi-cluster: waving region after region. Absent from rollouts that do not. */
const RegionWaveFields = {
  waveBy: Type.Optional(
    Type.Literal('region', {
      description:
        "multi-cluster: roll out one region after the other, in the order of `regions` (else of `selector.regions`); the canary and waves apply within each region, and a region starts only once the one before is done",
    }),
  ),
  regions: Type.Optional(
    Type.Array(Region, {
      minItems: 1,
      maxItems: 100,
      uniqueItems: true,
      description:
        "with waveBy 'region': the regions in rollout order; the selector then takes only their instances. Given with `selector.regions` too, it must name the same regions. Each must be served by a registered cluster (422 otherwise)",
    }),
  ),
  pauseBetweenRegions: Type.Optional(
    Type.Boolean({ description: "with waveBy 'region': pause once a region is done, before the next one starts; resume goes on (default false)" }),
  ),
};

const CreateRollout = Type.Object(
  {
    version: Version,
    selector: Type.Optional(Selector),
    strategy: Type.Optional(Type.Object({ ...Type.Partial(Type.Object(StrategyFields)).properties, ...RegionWaveFields }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

const Counts = Type.Object({
  total: Type.Integer(),
  pending: Type.Integer(),
  running: Type.Integer(),
  succeeded: Type.Integer(),
  rolledBack: Type.Integer(),
  failed: Type.Integer(),
  skipped: Type.Integer({ description: 'busy with another operation until the end, or no longer upgradable' }),
});

export const Rollout = Type.Object(
  {
    id: Type.String(),
    version: Type.String(),
    status: Type.Enum(rolloutStatuses),
    strategy: Type.Object({ ...StrategyFields, ...RegionWaveFields }),
    counts: Counts,
    waves: Type.Array(
      Type.Object({
        index: Type.Integer(),
        name: Type.String({ description: "`canary`, `wave 1`, …; waving by region prefixed by the region: `eu canary`, `eu wave 1`" }),
        region: Type.Optional(Type.String({ description: "waving by region: the region of this wave's instances" })),
        size: Type.Integer(),
        status: Type.Enum(['pending', 'running', 'done']),
        counts: Counts,
      }),
      { description: 'in the order they run; the canary (when there is one) is wave 0 (waving by region: each region its canary and waves in turn)' },
    ),
    failures: Type.Array(Type.Object({ slug: Type.String(), operationId: Type.Optional(Type.String()), error: Type.String() })),
    startedAt: Type.String({ format: 'date-time' }),
    endedAt: Type.Optional(Type.String({ format: 'date-time' })),
    error: Type.Optional(Type.String({ description: 'why the rollout failed outside its own course (its workflow was terminated)' })),
    workflowId: Type.Optional(Type.String({ description: 'the Temporal workflow id of the rollout (`rollout:<id>`)' })),
    runId: Type.Optional(Type.String({ description: 'its Temporal run id (the current one, after a continue-as-new)' })),
    temporalUiUrl: Type.Optional(Type.String({ description: 'the run in the Temporal UI; present when SHIPYARD_TEMPORAL_UI_URL is set' })),
  },
  { $id: 'Rollout' },
);

export const RolloutAccepted = Type.Object({ rollout: Type.Ref('Rollout') }, { $id: 'RolloutAccepted' });

export const RolloutPage = Type.Object(
  {
    items: Type.Array(
      Type.Object({
        id: Type.String(),
        version: Type.String(),
        status: Type.Enum(rolloutStatuses, { description: 'as of its last change' }),
        startedAt: Type.String({ format: 'date-time' }),
        endedAt: Type.Optional(Type.String({ format: 'date-time' })),
      }),
    ),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'RolloutPage' },
);

const ResumeBody = Type.Object(
  { failureBudget: Type.Optional(Type.Integer({ minimum: 0, description: 'a new failure budget (e.g. to go on after a halt)' })) },
  { additionalProperties: false },
);

export const rolloutRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  app.post(
    '/rollouts',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Roll a version out to the fleet in waves',
        description:
          "The target set is fixed now: ready instances matching the selector, not already at the version. Each is upgraded by its ordinary upgrade operation. With strategy.waveBy 'region' the regions go one after the other (400 when no region order is given or it names a region the selector does not; 422 `placement-unserved` for a region no cluster serves).",
        tags: ['rollouts'],
        body: CreateRollout,
        response: {
          202: Type.Ref('RolloutAccepted', { description: 'Rollout started; Location names it' }),
          ...problems(400, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const rollout = await startRollout(deps, request.body, request.caller!.name);
      return reply.code(202).header('location', `/v1/rollouts/${rollout.id}`).send({ rollout });
    },
  );

  app.get(
    '/rollouts',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'List rollouts, newest first',
        tags: ['rollouts'],
        querystring: Type.Object(pageQuery, { additionalProperties: false }),
        response: {
          200: Type.Ref('RolloutPage', { description: 'A page of rollouts (counts are on GET /v1/rollouts/{id})' }),
          ...problems(400),
        },
      },
    },
    async (request) => listRollouts(deps, { limit: request.query.limit ?? DEFAULT_PAGE_SIZE, cursor: request.query.cursor }),
  );

  app.get(
    '/rollouts/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One rollout; live from its workflow while it runs',
        tags: ['rollouts'],
        params: IdParams,
        response: { 200: Type.Ref('Rollout', { description: 'The rollout' }), ...problems(404) },
      },
    },
    async (request) => getRollout(deps, request.params.id),
  );

  const steer = (action: RolloutAction, summary: string) =>
    app.post(
      `/rollouts/:id/${action}`,
      {
        config: { role: 'operator' },
        schema: {
          summary,
          tags: ['rollouts'],
          params: IdParams,
          ...(action === 'resume' ? { body: Type.Optional(ResumeBody) } : {}),
          response: { 200: Type.Ref('Rollout', { description: 'The rollout in its new state' }), ...problems(404, 409) },
        },
      },
      async (request) => steerRollout(deps, request.params.id, action, (request.body as { failureBudget?: number } | undefined) ?? {}),
    );
  steer('pause', 'Pause: no new upgrades start; those in flight finish');
  steer('resume', 'Resume a paused or halted rollout, optionally with a new failure budget');
  steer('abort', 'Abort: no new upgrades start; those in flight finish; ends aborted');
};
