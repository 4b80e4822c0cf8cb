// The codec server: the Temporal UI (self-hosted or Cloud) posts the encrypted payloads it shows
// to `<endpoint>/decode` from the operator's browser and gets them back readable; `/encode` is
// for what the UI sends (signals, starts). Protocol: `{ payloads: [{ metadata, data }] }` with
// base64 bytes (Payload in proto3 JSON), in and out, and an `X-Namespace` header.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { ApiRole } from '../../domain/api-keys';
import { PayloadDecryptionError } from '../../temporal/encryption-codec';
import { payloadCodecs } from '../../temporal/data-converter';
import { authenticate, authorize, type Caller, requireFleetKey } from '../auth';
import type { Deps } from '../../lifecycle/deps';
import { Problem, problems } from '../problems';
import { CodecPayloads } from '../schemas';
import { Payload as PayloadMessage } from '../../temporal/proto';

type WirePayload = { metadata?: Record<string, string>; data?: string };

const fromWire = (p: WirePayload): Payload => PayloadMessage.fromObject(p);
const toWire = (p: Payload): WirePayload =>
  PayloadMessage.toObject(PayloadMessage.fromObject(p), { bytes: String }) as WirePayload;

async function encodeAll(codecs: PayloadCodec[], payloads: Payload[]): Promise<Payload[]> {
  for (const codec of codecs) payloads = await codec.encode(payloads);
  return payloads;
}

async function decodeAll(codecs: PayloadCodec[], payloads: Payload[]): Promise<Payload[]> {
  for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
  return payloads;
}

export const codecRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  const codecs = payloadCodecs(deps.config);
  const allowedOrigins = new Set(deps.config.codecCorsOrigins);

  // The UI calls from the operator's browser: only the configured UI origins may read answers,
  // with credentials (the UI may forward cookies or an Authorization header), never `*`.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin && allowedOrigins.has(origin)) {
      reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true');
    }
  });

  // OPTIONS exists here for CORS preflights only; any other OPTIONS is answered like a method
  // the path does not have.
  for (const path of ['/decode', '/encode']) {
    app.options(path, { schema: { hide: true } }, async (request, reply) => {
      if (!request.headers['access-control-request-method']) {
        reply.header('allow', 'POST');
        throw new Problem(405, `OPTIONS is not allowed on /codec${path}; allowed: POST`);
      }
      const origin = request.headers.origin;
      if (!origin || !allowedOrigins.has(origin)) {
        throw new Problem(403, `origin ${origin ?? '(none)'} is not in SHIPYARD_CODEC_CORS_ORIGINS`);
      }
      return reply
        .code(204)
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', 'content-type, x-namespace, authorization')
        .header('access-control-max-age', '600')
        .send();
    });
  }

  /**
   * With SHIPYARD_CODEC_AUTH=api-key, the forwarded Authorization must be a Shipyard API key of
   * `role` or higher, and not one bound to an owner: payloads are the whole fleet's.
   */
  const codecCaller = async (request: FastifyRequest, role: ApiRole): Promise<Caller> => {
    const caller = await authenticate(request, deps.db, deps.config.adminKey);
    authorize(caller, role);
    requireFleetKey(caller);
    return caller;
  };

  async function allowed(request: FastifyRequest, role: ApiRole): Promise<boolean> {
    if (deps.config.codecAuth === 'none') return true;
    try {
      await codecCaller(request, role);
      return true;
    } catch (err) {
      if (err instanceof Problem) return false;
      throw err;
    }
  }

  /** Payloads of another namespace are not Shipyard's: left as they are. */
  const ours = (request: FastifyRequest) => {
    const namespace = request.headers['x-namespace'];
    return namespace === undefined || namespace === deps.config.temporalNamespace;
  };

  const schema = (summary: string) => ({
    summary,
    tags: ['codec'],
    headers: Type.Object({ 'x-namespace': Type.Optional(Type.String()) }),
    body: CodecPayloads(),
    response: { 200: Type.Ref('CodecPayloads', { description: 'The payloads, decoded (or encoded)' }), ...problems(400, 401, 403) },
  });

  app.post(
    '/decode',
    {
      schema: schema(
        'Decrypt payloads for the Temporal UI. Unauthorised callers (SHIPYARD_CODEC_AUTH=api-key, no viewer key) get them back still encrypted',
      ),
    },
    async (request) => {
      const { payloads } = request.body;
      if (!ours(request) || !(await allowed(request, 'viewer'))) return { payloads };
      try {
        return { payloads: (await decodeAll(codecs, payloads.map(fromWire))).map(toWire) };
      } catch (err) {
        if (err instanceof PayloadDecryptionError) throw new Problem(400, err.message);
        throw err;
      }
    },
  );

  app.post(
    '/encode',
    {
      schema: schema(
        'Encrypt payloads the Temporal UI sends. Needs an operator key with SHIPYARD_CODEC_AUTH=api-key: workers trust what is encrypted with Shipyard\'s key',
      ),
    },
    async (request) => {
      const { payloads } = request.body;
      if (!ours(request)) return { payloads };
      if (deps.config.codecAuth === 'api-key') await codecCaller(request, 'operator');
      return { payloads: (await encodeAll(codecs, payloads.map(fromWire))).map(toWire) };
    },
  );
};
