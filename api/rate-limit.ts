// Requests a minute per API key, at its role's limit (SHIPYARD_RATE_LIMIT_VIEWER, _OPERATOR,
// _ADMIN); requests without a valid key count per client address, at the viewer limit, so a
// flood of bad keys is limited too. @fastify/rate-limit keeps the counters (in this process's
// memory: each API replica counts on its own); the answer is Shipyard's own, a problem like
// every other error, with both header families clients look for.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { ApiRole } from '../domain/api-keys';
import type { Config } from '../domain/config';
import { Problem } from './problems';

/** One fixed window a minute long per key. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

export type RateLimitHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * Registers the counters on `app` and returns the hook that counts a request: call it once the
 * caller is known (request.caller, null without a valid key). It sets RateLimit-Limit,
 * -Remaining and -Reset (and the same with X-) on every answer, and answers 429 with
 * Retry-After once a key has used up its minute.
 */
export async function installRateLimit(app: FastifyInstance, config: Pick<Config, 'rateLimitViewer' | 'rateLimitOperator' | 'rateLimitAdmin'>): Promise<RateLimitHook> {
  // Nothing is limited on its own (global: false): /healthz, /readyz, /metrics, /docs and the
  // document are never counted; the /v1 routes call the hook below.
  await app.register(rateLimit, { global: false, timeWindow: RATE_LIMIT_WINDOW_MS });
  const limits: Record<ApiRole, number> = { viewer: config.rateLimitViewer, operator: config.rateLimitOperator, admin: config.rateLimitAdmin };
  const count = app.createRateLimit({
    keyGenerator: (request) => (request.caller ? `key:${request.caller.keyId}` : `ip:${request.ip}`),
    max: (request) => (request.caller ? limits[request.caller.role] : limits.viewer),
    timeWindow: RATE_LIMIT_WINDOW_MS,
  });
  return async (request, reply) => {
    const counted = await count(request);
    if (counted.isAllowed) return;
    const { max, remaining, ttlInSeconds: reset } = counted;
    for (const prefix of ['ratelimit', 'x-ratelimit']) {
      reply.header(`${prefix}-limit`, max).header(`${prefix}-remaining`, remaining).header(`${prefix}-reset`, reset);
    }
    if (!counted.isExceeded) return;
    reply.header('retry-after', reset);
    const who = request.caller ? `API key "${request.caller.name}" (${request.caller.role})` : 'this client address (no valid API key)';
    throw new Problem(429, `${who} may make ${max} requests a minute; retry in ${reset} s`);
  };
}
