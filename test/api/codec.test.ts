// The codec server as the Temporal UI uses it: payloads in the UI's JSON form decoded and encoded
// with the configured keys, CORS for exactly the configured UI origin, and API-key auth under
// which an unauthorised caller sees payloads still encrypted rather than an error.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptionCodec } from '../../temporal/encryption-codec';
import { type Harness, startHarness } from './harness';
import { Payload as PayloadMessage } from '../../temporal/proto';

const uiOrigin = 'http://ui.shipyard.test:8233';
const keyA = { id: 'a', key: randomBytes(32).toString('base64') };
const keyB = { id: 'b', key: randomBytes(32).toString('base64') };
const keys = `${keyB.id}:${keyB.key},${keyA.id}:${keyA.key}`;

type WirePayload = { metadata?: Record<string, string>; data?: string };
const wire = (p: Payload): WirePayload => PayloadMessage.toObject(PayloadMessage.create(p), { bytes: String }) as WirePayload;
const value = (p: WirePayload) => defaultPayloadConverter.fromPayload(PayloadMessage.fromObject(p));
const meta = (p: WirePayload, key: string) => Buffer.from(p.metadata?.[key] ?? '', 'base64').toString('utf8');

const secret = { ownerEmail: 'ceo@secret-customer.test' };
const plain = defaultPayloadConverter.toPayload(secret);
/** As an older worker wrote it, with key A before B was put first. */
let underA: WirePayload;

let withAuth: Harness;
let open: Harness;

beforeAll(async () => {
  underA = wire((await new EncryptionCodec([keyA]).encode([plain]))[0]!);
  const env = { SHIPYARD_ENCRYPTION_KEYS: keys, SHIPYARD_CODEC_CORS_ORIGINS: uiOrigin };
  withAuth = await startHarness({ ...env, SHIPYARD_CODEC_AUTH: 'api-key' });
  open = await startHarness({ ...env, SHIPYARD_CODEC_AUTH: 'none' });
});
afterAll(async () => {
  await withAuth?.close();
  await open?.close();
});

const post = (h: Harness, role: Parameters<Harness['call']>[0], path: string, payloads: WirePayload[], headers: Record<string, string> = {}) =>
  h.call(role, { method: 'POST', url: `/codec/${path}`, headers: { 'x-namespace': h.config.temporalNamespace, ...headers }, payload: { payloads } });

describe('decode and encode', () => {
  it('decodes payloads of an older key and passes unencrypted ones through', async () => {
    const res = await post(open, null, 'decode', [underA, wire(plain)]);
    expect(res.statusCode).toBe(200);
    const { payloads } = res.json();
    expect(payloads.map(value)).toEqual([secret, secret]);
    expect(meta(payloads[0], 'encoding')).toBe('json/plain');
  });

  it('encodes with the first key, and decodes its own output', async () => {
    const encoded = (await post(open, null, 'encode', [wire(plain)])).json().payloads;
    expect(meta(encoded[0], 'encoding')).toBe('binary/encrypted');
    expect(meta(encoded[0], 'encryption-key-id')).toBe('b');
    expect(Buffer.from(encoded[0].data, 'base64').toString('utf8')).not.toContain('secret-customer');
    expect((await post(open, null, 'decode', encoded)).json().payloads.map(value)).toEqual([secret]);
  });

  it('answers a payload of an unknown key id with a problem naming the id', async () => {
    const underC = wire((await new EncryptionCodec([{ id: 'c-2025', key: randomBytes(32).toString('base64') }]).encode([plain]))[0]!);
    const res = await post(open, null, 'decode', [underC], { origin: uiOrigin });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    // The UI can read the reason: errors carry the CORS headers too.
    expect(res.headers['access-control-allow-origin']).toBe(uiOrigin);
    expect(res.json().detail).toBe('payload was encrypted with key id "c-2025", which is not in SHIPYARD_ENCRYPTION_KEYS (known ids: b, a)');
  });

  it('refuses a body that is not { payloads } with base64 fields', async () => {
    expect((await post(open, null, 'decode', [{ data: 'not base64!' }])).statusCode).toBe(400);
    const res = await open.call(null, { method: 'POST', url: '/codec/decode', payload: { items: [] } });
    expect(res.statusCode).toBe(400);
  });

  it('leaves payloads of another namespace as they are', async () => {
    const res = await post(open, null, 'decode', [underA], { 'x-namespace': 'someone-else' });
    expect(res.json().payloads).toEqual([underA]);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    open.call(null, {
      method: 'OPTIONS',
      url: '/codec/decode',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace,authorization' },
    });

  it('lets the configured UI origin through a preflight, with credentials', async () => {
    const res = await preflight(uiOrigin);
    expect(res.statusCode).toBe(204);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': uiOrigin,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type, x-namespace, authorization',
    });
    const post = await open.call(null, { method: 'POST', url: '/codec/decode', headers: { origin: uiOrigin }, payload: { payloads: [underA] } });
    expect(post.headers['access-control-allow-origin']).toBe(uiOrigin);
  });

  it('gives any other origin no CORS headers at all', async () => {
    const res = await preflight('http://evil.test:8233');
    expect(res.statusCode).toBe(403);
    expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    const post = await open.call(null, { method: 'POST', url: '/codec/decode', headers: { origin: 'http://evil.test:8233' }, payload: { payloads: [underA] } });
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('with SHIPYARD_CODEC_AUTH=api-key', () => {
  it('returns payloads still encrypted to a caller without a valid key', async () => {
    for (const headers of [{}, { authorization: 'Bearer sy_not-a-key' }, { authorization: 'Basic abc' }] as Record<string, string>[]) {
      const res = await post(withAuth, null, 'decode', [underA], headers);
      expect(res.statusCode).toBe(200);
      expect(res.json().payloads).toEqual([underA]);
    }
  });

  it('decodes for a viewer key', async () => {
    const res = await post(withAuth, 'viewer', 'decode', [underA]);
    expect(res.json().payloads.map(value)).toEqual([secret]);
  });

  it('encodes only for an operator key: workers trust what carries Shipyard\'s key', async () => {
    expect((await post(withAuth, null, 'encode', [wire(plain)])).statusCode).toBe(401);
    expect((await post(withAuth, 'viewer', 'encode', [wire(plain)])).statusCode).toBe(403);
    const res = await post(withAuth, 'operator', 'encode', [wire(plain)]);
    expect(meta(res.json().payloads[0], 'encryption-key-id')).toBe('b');
  });
});
