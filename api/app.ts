// The HTTP API as one buildable app: clients are handed in, so tests run it with `inject`
// against the real catalogue and Temporal server, and server.ts only listens.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { registerAjvFormats, TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiRole } from '../domain/api-keys';
import { authenticate, authorize, type Caller } from './auth';
import type { Deps } from './operations';
import { installObservability, type ApiMetricsOptions } from './observability';
import { clientErrorHandler, documentProblems, frameworkErrors, installProblemHandlers, MAX_PARAM_LENGTH, ProblemSchema } from './problems';
import { sharedSchemas } from './schemas';
import { apiKeyRoutes } from './routes/api-keys';
import { codecRoutes } from './routes/codec';
import { fleetHealthRoutes } from './routes/fleet-health';
import { healthRoutes } from './routes/health';
import { instanceRoutes } from './routes/instances';
import { invoiceRoutes } from './routes/invoices';
import { operationRoutes } from './routes/operations';
import { planRoutes } from './routes/plans';
import { webhookRoutes } from './routes/webhooks';
import { RegistryPushIgnored, registryHookRoutes } from './routes/registry-hook';
import { Rollout, RolloutAccepted, RolloutPage, rolloutRoutes } from './routes/rollouts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The weakest role allowed on a /v1 route. */
    role?: ApiRole;
  }
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export type AppDeps = Deps;

export const BODY_LIMIT = 64 * 1024;

export async function build(
  deps: AppDeps,
  options: Pick<FastifyServerOptions, 'logger'> & { metrics?: ApiMetricsOptions } = {},
): Promise<FastifyInstance> {
  registerAjvFormats();
  const app = Fastify({
    logger: options.logger ?? false,
    // observability.ts logs one line per request instead, with the route and the key's name.
    disableRequestLogging: true,
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // What the router and Node's HTTP parser refuse is a problem too.
    frameworkErrors,
    clientErrorHandler,
    // TypeBox checks bodies as they are: an unknown field is an error, never silently dropped,
    // and nothing is coerced; only query strings and params are converted from text.
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // Bodies are JSON or nothing: a text/plain body is a 415, not a string handed to a route.
  app.removeContentTypeParser('text/plain');

  installProblemHandlers(app);
  installObservability(app, deps.db, options.metrics);
  app.addSchema(ProblemSchema);
  for (const schema of [...sharedSchemas, Rollout, RolloutAccepted, RolloutPage, RegistryPushIgnored]) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Shipyard',
        version: '1',
        description: 'Provisions and runs per-customer instances. Every mutation is an operation backed by a Temporal workflow.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API key' } } },
      security: [{ bearer: [] }],
    },
    // Shared schemas appear in the document under their own names.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  // The document and its UI are public: they describe the API, not any customer's data.
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, deps);
  // The Temporal UI's codec server: its own CORS and (optional) auth, outside /v1.
  await app.register(codecRoutes, { ...deps, prefix: '/codec' });
  await app.register(
    async (v1) => {
      v1.decorateRequest('caller', null);
      v1.addHook('onRoute', (route) => documentProblems(route, [401, 403]));
      v1.addHook('onRequest', async (request) => {
        request.caller = await authenticate(request, deps.db, deps.config.adminKey);
        // A /v1 route that forgot to say is admin-only rather than open.
        authorize(request.caller, request.routeOptions.config.role ?? 'admin');
      });
      await v1.register(planRoutes, deps);
      await v1.register(instanceRoutes, deps);
      await v1.register(operationRoutes, deps);
      await v1.register(invoiceRoutes, deps);
      await v1.register(rolloutRoutes, deps);
      await v1.register(apiKeyRoutes, deps);
      await v1.register(webhookRoutes, deps);
      await v1.register(fleetHealthRoutes, deps);
    },
    { prefix: '/v1' },
  );
  // Signed by the registry, not by an API key: outside the /v1 key check.
  await app.register(registryHookRoutes, { ...deps, prefix: '/v1/hooks' });
  return app;
}
