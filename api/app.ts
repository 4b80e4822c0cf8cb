// The HTTP API as one buildable app: clients are handed in, so tests run it with `inject`
// against the real catalogue and Temporal server, and server.ts only listens.
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { registerAjvFormats, Type, TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiRole } from '../domain/api-keys';
import { authenticate, authorize, type Caller, keepLiveKeys, requireFleetKey } from './auth';
import type { Deps } from '../lifecycle/deps';
import { installObservability, type ApiMetricsOptions } from './observability';
import { installRateLimit } from './rate-limit';
import { clientErrorHandler, documentProblems, type FieldError, frameworkErrors, installProblemHandlers, MAX_PARAM_LENGTH, Problem, ProblemSchema, ProblemTypeSchema } from './problems';
import { sharedSchemas } from './schemas';
import { apiKeyRoutes, Me } from './routes/api-keys';
import { backupRoutes } from './routes/backups';
import { clusterRoutes, clusterSchemas } from './routes/clusters';
import { codecRoutes } from './routes/codec';
import { fleetHealthRoutes } from './routes/fleet-health';
import { FleetSummary, fleetRoutes } from './routes/fleet';
import { healthRoutes } from './routes/health';
import { instanceRoutes } from './routes/instances';
import { invoiceRoutes } from './routes/invoices';
import { operationRoutes } from './routes/operations';
import { planRoutes } from './routes/plans';
import { uiRoutes } from './routes/ui';
import { webhookRoutes } from './routes/webhooks';
import { streamRoutes } from './routes/streams';
import { StreamHub } from '../lifecycle/streams';
import { RegistryPushIgnored, registryHookRoutes } from './routes/registry-hook';
import { Rollout, RolloutAccepted, RolloutPage, rolloutRoutes } from './routes/rollouts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The weakest role allowed on a /v1 route. */
    role?: ApiRole;
    /**
     * The route passes the caller's scope down (instances and what hangs off them), so a key bound
     * to an owner may call it. Any other /v1 route covers the whole fleet and refuses such a key (403).
     */
    ownerScoped?: boolean;
  }
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export type AppDeps = Deps;

export const BODY_LIMIT = 64 * 1024;

/**
 * C0 control characters and DEL. Postgres cannot store NUL (a 500 once it got there), and the rest
 * are terminal escapes and bells in logs and UIs. Tab, newline and carriage return are free text
 * in a body; a field that must not hold them (names, slugs, URLs, ids) says so in its pattern.
 * The path and query string are part of a URL and never hold any.
 */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const URL_CONTROL = /[\u0000-\u001f\u007f]/;

/** Where a value holds a control character, as validation errors name fields: `selector.plans.1`. */
function controlCharacterFields(value: unknown, pattern: RegExp): FieldError[] {
  const found: FieldError[] = [];
  // A walk with its own stack: a 64 KiB body can nest arrays deeper than the call stack goes.
  const pending: [unknown, string[]][] = [[value, []]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      if (pattern.test(item)) found.push({ field: path.join('.'), message: 'must not contain control characters' });
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) pending.push([key, [...path, key]], [child, [...path, key]]);
    }
  }
  return [...new Map(found.map((e) => [e.field, e])).values()];
}

/**
 * Refuses control characters in every part of every request, read by the route or not, before
 * any schema or handler sees them: one rule instead of a pattern on each string field.
 */
async function refuseControlCharacters(request: FastifyRequest): Promise<void> {
  for (const [part, value, pattern] of [
    ['params', request.params, URL_CONTROL],
    ['querystring', request.query, URL_CONTROL],
    ['body', request.body, CONTROL],
  ] as const) {
    const errors = controlCharacterFields(value, pattern);
    if (errors.length > 0) throw new Problem(400, `the ${part} is invalid`, { errors });
  }
}

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
  /** `METHOD /path/{param}` of the routes whose body is `Type.Optional(…)`, as the document names them. */
  const optionalBodies = new Set<string>();
  const operationOf = (method: string, url: string) => `${method} ${url.replace(/:(\w+)/g, '{$1}')}`;
  app.addHook('onRoute', (route) => {
    if (!route.schema?.body || !Type.IsOptional(route.schema.body)) return;
    for (const method of ([] as string[]).concat(route.method)) optionalBodies.add(operationOf(method, route.url));
  });
  app.setValidatorCompiler((route) => {
    const validate = TypeBoxValidatorCompiler(route);
    // Fastify checks a body that is not there against the schema all the same, so an optional
    // one would refuse the bodiless POST `curl -X POST` sends. It hands a missing body over as
    // null, so a JSON `null` body reads as none too; handlers see undefined for both.
    if (route.httpPart !== 'body' || !optionalBodies.has(operationOf(route.method, route.url))) return validate;
    return (body: unknown) => (body === null || body === undefined ? { value: undefined } : validate(body));
  });
  // Bodies are JSON or nothing: a text/plain body is a 415, not a string handed to a route.
  app.removeContentTypeParser('text/plain');

  installProblemHandlers(app);
  app.addHook('preValidation', refuseControlCharacters);
  // Every event stream this app serves; closing the app ends them, so close() does not wait on them.
  const streams = new StreamHub(deps);
  app.addHook('preClose', async () => streams.close());
  installObservability(app, deps.db, { ...options.metrics, streams });
  app.addSchema(ProblemTypeSchema);
  app.addSchema(ProblemSchema);
  for (const schema of [...sharedSchemas, Rollout, RolloutAccepted, RolloutPage, RegistryPushIgnored, Me, FleetSummary, ...clusterSchemas]) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Shipyard',
        version: '1',
        description:
          'Provisions and runs per-customer instances. Every mutation is an operation backed by a Temporal workflow. ' +
          'Every error is `application/problem+json` (RFC 9457) whose `type` is one of components.schemas.ProblemType.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API key' } } },
      security: [{ bearer: [] }],
    },
    // Shared schemas appear in the document under their own names.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    // @fastify/swagger marks every body required; the optional ones (above) are not.
    transformObject: (document) => {
      // Only an OpenAPI document is configured above; this narrows the union Swagger 2 is part of.
      if (!('openapiObject' in document)) return document.swaggerObject;
      for (const [path, operations] of Object.entries(document.openapiObject.paths ?? {})) {
        for (const [method, operation] of Object.entries(operations as Record<string, { requestBody?: { required?: boolean } }>)) {
          if (operation.requestBody && optionalBodies.has(`${method.toUpperCase()} ${path}`)) operation.requestBody.required = false;
        }
      }
      return document.openapiObject;
    },
  });
  // The document and its UI are public: they describe the API, not any customer's data.
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const countRequest = await installRateLimit(app, deps.config);
  await app.register(healthRoutes, deps);
  // The dashboard's files: public like /docs; the data it shows comes from /v1 with the user's key.
  await app.register(uiRoutes);
  // The Temporal UI's codec server: its own CORS and (optional) auth, outside /v1.
  await app.register(codecRoutes, { ...deps, prefix: '/codec' });
  await app.register(
    async (v1) => {
      v1.decorateRequest('caller', null);
      const stopKeepingKeys = keepLiveKeys(deps.db);
      v1.addHook('onClose', stopKeepingKeys);
      v1.addHook('onRoute', (route) => documentProblems(route, [401, 403, 429]));
      v1.addHook('onRequest', async (request, reply) => {
        // Counted per key once the key is known; a request without a valid key still counts
        // (per client address) before it is answered 401.
        let unauthenticated: Problem | undefined;
        const caller = await authenticate(request, deps.db, deps.config.adminKey).catch((err: unknown) => {
          if (!(err instanceof Problem)) throw err;
          unauthenticated = err;
          return null;
        });
        request.caller = caller;
        await countRequest(request, reply);
        if (!caller) throw unauthenticated;
        const { role, ownerScoped } = request.routeOptions.config;
        // A /v1 route that forgot to say is admin-only rather than open, and fleet-wide rather than owner-scoped.
        authorize(caller, role ?? 'admin');
        if (!ownerScoped) requireFleetKey(caller);
      });
      await v1.register(planRoutes, deps);
      await v1.register(instanceRoutes, deps);
      await v1.register(operationRoutes, deps);
      await v1.register(streamRoutes, { ...deps, streams });
      await v1.register(backupRoutes, deps);
      await v1.register(invoiceRoutes, deps);
      await v1.register(rolloutRoutes, deps);
      await v1.register(apiKeyRoutes, deps);
      await v1.register(webhookRoutes, deps);
      await v1.register(fleetHealthRoutes, deps);
      await v1.register(fleetRoutes, deps);
      await v1.register(clusterRoutes, deps);
    },
    { prefix: '/v1' },
  );
  // Signed by the registry, not by an API key: outside the /v1 key check, counted per client address.
  await app.register(
    async (hooks) => {
      hooks.addHook('onRoute', (route) => documentProblems(route, [429]));
      hooks.addHook('onRequest', countRequest);
      await hooks.register(registryHookRoutes, deps);
    },
    { prefix: '/v1/hooks' },
  );
  return app;
}
