// The container registry's push webhook: a pushed tag of the app image that matches
// SHIPYARD_AUTO_ROLLOUT_TAGS starts a rollout of that tag with the configured strategy. It carries
// no API key; the registry signs the raw body with a shared secret instead (HMAC-SHA256, the
// `X-Hub-Signature-256: sha256=<hex>` form GitHub and many registries use).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { Config } from '../../domain/config';
import { versionProblem } from '../../domain/validation';
import { startRollout } from '../../lifecycle/rollouts';
import type { Deps } from '../../lifecycle/deps';
import { Problem, problems } from '../problems';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body as it came, for the signature check (only where a route keeps it). */
    rawBody?: string;
  }
}

const Push = Type.Object(
  {
    repository: Type.String({ minLength: 1, maxLength: 512, description: 'the image repository, as in SHIPYARD_APP_IMAGE' }),
    tag: Type.String({ minLength: 1, maxLength: 128 }),
    digest: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the manifest digest (sha256:…)' })),
  },
  { additionalProperties: false },
);

export const RegistryPushIgnored = Type.Object({ ignored: Type.String() }, { $id: 'RegistryPushIgnored' });

export const SIGNATURE_HEADER = 'x-hub-signature-256';

/** `sha256=<hex>` of the body: what a registry sends, and what tests sign with. */
export const signRegistryPush = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function verify(config: Config, header: string | string[] | undefined, body: string): void {
  const given = typeof header === 'string' ? Buffer.from(header) : undefined;
  const expected = config.registryWebhookSecret ? Buffer.from(signRegistryPush(config.registryWebhookSecret, body)) : undefined;
  // timingSafeEqual needs equal lengths; a length mismatch reveals only that it is wrong.
  if (!given || !expected || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new Problem(401, `missing or invalid ${SIGNATURE_HEADER} signature`);
  }
}

/** Why a push starts no rollout, or undefined when it starts one. */
function ignoredBecause(config: Config, push: { repository: string; tag: string }): string | undefined {
  if (push.repository !== config.appImage) return `repository ${push.repository} is not the app image ${config.appImage}`;
  if (!config.autoRolloutTags) return 'automatic rollouts are off (SHIPYARD_AUTO_ROLLOUT_TAGS is not set)';
  if (!new RegExp(config.autoRolloutTags).test(push.tag)) return `tag ${push.tag} does not match ${config.autoRolloutTags}`;
  const problem = versionProblem(push.tag);
  return problem ? `tag ${push.tag} is no valid version: ${problem}` : undefined;
}

/** One rollout per push: the same repository, tag and digest delivered again name the same rollout. */
const rolloutIdFor = (push: { repository: string; tag: string; digest?: string }) =>
  `hook_${createHash('sha256').update(`${push.repository}\n${push.tag}\n${push.digest ?? ''}`).digest('hex').slice(0, 32)}`;

export const registryHookRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  // The signature covers the bytes sent: keep them next to the parsed body.
  // Parsed as everywhere else (prototype poisoning refused), after keeping the raw text.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    request.rawBody = body as string;
    // Fastify's default parser answers through `done` and returns nothing; the promise in its
    // type is for parsers written as async functions.
    void parseJson(request, body as string, done);
  });

  app.post(
    '/registry',
    {
      schema: {
        summary: 'Registry push webhook: a matching tag of the app image starts a rollout',
        description: `Authenticated by \`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(SHIPYARD_REGISTRY_WEBHOOK_SECRET, raw body)>\`, not by an API key.`,
        tags: ['rollouts'],
        security: [],
        body: Push,
        response: {
          200: Type.Ref('RegistryPushIgnored', { description: 'Nothing started, and why' }),
          202: Type.Ref('RolloutAccepted', { description: 'The rollout this push started (the same one for a repeated delivery)' }),
          ...problems(400, 401, 409, 422),
        },
      },
      // Before the body is validated: an unsigned request learns nothing about the expected shape.
      preValidation: async (request) => verify(deps.config, request.headers[SIGNATURE_HEADER], request.rawBody ?? ''),
    },
    async (request, reply) => {
      const ignored = ignoredBecause(deps.config, request.body);
      if (ignored) return reply.code(200).send({ ignored });
      const rollout = await startRollout(
        deps,
        { version: request.body.tag, selector: deps.config.autoRolloutSelector, strategy: deps.config.autoRolloutStrategy },
        `registry:${request.body.repository}`,
        rolloutIdFor(request.body),
      );
      return reply.code(202).header('location', `/v1/rollouts/${rollout.id}`).send({ rollout });
    },
  );
};
