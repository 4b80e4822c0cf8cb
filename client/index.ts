// Shipyard's typed API client: openapi-fetch over the types openapi-typescript writes from the
// API's own OpenAPI document (client/openapi.d.ts, `npm run client:generate`). Paths, parameters,
// bodies and answers are checked by the compiler against the routes' schemas; a refusal comes back
// as a ShipyardProblem carrying the problem's `type`, never as a body to pick apart.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './openapi';

export type { components, paths };
export type Schemas = components['schemas'];
export type Instance = Schemas['Instance'];
export type Rollout = Schemas['Rollout'];
export type ProblemBody = Schemas['Problem'];
export type ProblemType = Schemas['ProblemType'];
/**
 * An operation, with what the API may add as it grows (the workflow behind it and a link to it
 * in the Temporal UI): optional, so a client works against servers with and without them.
 */
export type Operation = Schemas['Operation'] & { workflowId?: string; runId?: string; temporalUiUrl?: string };
export type Step = Operation['steps'][number];

export type ShipyardClient = Client<paths>;

export interface ClientOptions {
  /** The API's root, e.g. `https://shipyard.example.com` (no `/v1`). */
  baseUrl: string;
  apiKey: string;
  /** For tests and proxies; globalThis.fetch by default. */
  fetch?: (request: Request) => Promise<Response>;
  userAgent?: string;
}

/** An authenticated client: every request carries the key as a bearer token. */
export function createShipyardClient(options: ClientOptions): ShipyardClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const send = options.fetch ?? ((request: Request) => fetch(request));
  return createClient<paths>({
    baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}`, ...(options.userAgent ? { 'user-agent': options.userAgent } : {}) },
    fetch: async (request) => {
      try {
        return await send(request);
      } catch (err) {
        throw new ShipyardUnreachable(baseUrl, err);
      }
    },
  });
}

/** The slug of a problem type: `operation-running` for `urn:shipyard:problem:operation-running`. */
export type ProblemSlug = ProblemType extends `urn:shipyard:problem:${infer Slug}` ? Slug : never;

/** A request the API refused or failed, as its application/problem+json said. */
export class ShipyardProblem extends Error {
  readonly status: number;
  /** The problem's `type` URI; one of ProblemType from this API, anything from a proxy in between. */
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: { field: string; message: string }[];
  /** The operation already running on the instance (operation-running only). */
  readonly operation: { id: string; kind: string } | undefined;

  constructor(status: number, body: unknown) {
    const problem = isProblem(body) ? body : undefined;
    const text = typeof body === 'string' && body.trim() ? body.trim().slice(0, 200) : undefined;
    const detail = problem?.detail ?? text;
    const title = problem?.title ?? `HTTP ${status}`;
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ShipyardProblem';
    this.status = status;
    this.type = problem?.type ?? `about:blank`;
    this.title = title;
    this.detail = detail;
    this.errors = problem?.errors ?? [];
    this.operation = problem?.operation;
  }

  /** Whether this is the problem `slug` (`is('operation-running')`). */
  is(slug: ProblemSlug): boolean {
    return this.type === `urn:shipyard:problem:${slug}`;
  }
}

function isProblem(body: unknown): body is ProblemBody {
  return typeof body === 'object' && body !== null && typeof (body as { type?: unknown }).type === 'string' && typeof (body as { status?: unknown }).status === 'number';
}

/** The API could not be reached at all (refused, DNS, TLS, reset): nothing was answered. */
export class ShipyardUnreachable extends Error {
  constructor(
    readonly baseUrl: string,
    cause: unknown,
  ) {
    // fetch's TypeError says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND, …).
    const reason = cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
    super(`cannot reach the Shipyard API at ${baseUrl}: ${reason}`, { cause });
    this.name = 'ShipyardUnreachable';
  }
}

/**
 * The answer's data, or a ShipyardProblem for a refusal (ShipyardUnreachable when nothing
 * answered). `const op = await unwrap(client.GET('/v1/operations/{id}', { params: { path: { id } } }))`.
 */
export async function unwrap<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const result = await pending;
  if (!result.response.ok) throw new ShipyardProblem(result.response.status, result.error);
  return result.data as T;
}
