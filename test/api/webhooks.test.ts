// The webhook routes through the API: the secret is shown once, targets are checked (scheme, and
// private, loopback and link-local addresses unless allowed), and the delivery log is readable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../api/app';
import { isPrivateAddress } from '../../activities/webhook-targets';
import { type Harness, startHarness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const create = (payload: object, app = h.app) =>
  app.inject({ method: 'POST', url: '/v1/webhooks', headers: { authorization: `Bearer ${h.keys.admin}` }, payload });

describe('webhooks API', () => {
  it('creates a webhook whose secret is shown once, lists it without the secret, deletes it', async () => {
    // A public address, so the check passes without SHIPYARD_WEBHOOK_ALLOW_PRIVATE.
    const created = await create({ url: 'https://93.184.215.14/hooks', events: ['instance.ready', 'operation.failed'], description: 'pager' });
    expect(created.statusCode, created.body).toBe(201);
    const { webhook, secret } = created.json();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(webhook).toMatchObject({ id: expect.stringMatching(/^whk_/), url: 'https://93.184.215.14/hooks', events: ['instance.ready', 'operation.failed'], description: 'pager' });
    expect(created.headers.location).toBe(`/v1/webhooks/${webhook.id}`);

    const list = await h.call('admin', { method: 'GET', url: '/v1/webhooks' });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toContainEqual(webhook);
    expect(list.body).not.toContain(secret);

    const log = await h.call('admin', { method: 'GET', url: `/v1/webhooks/${webhook.id}/deliveries?limit=5` });
    expect(log.statusCode).toBe(200);
    expect(log.json()).toEqual({ items: [], nextCursor: null });
    const badCursor = await h.call('admin', { method: 'GET', url: `/v1/webhooks/${webhook.id}/deliveries?cursor=bm9wZQ` });
    expect(badCursor.statusCode).toBe(400);

    expect((await h.call('admin', { method: 'DELETE', url: `/v1/webhooks/${webhook.id}` })).statusCode).toBe(200);
    expect((await h.call('admin', { method: 'DELETE', url: `/v1/webhooks/${webhook.id}` })).statusCode).toBe(404);
    expect((await h.call('admin', { method: 'GET', url: `/v1/webhooks/${webhook.id}/deliveries` })).statusCode).toBe(404);
    expect((await h.call('operator', { method: 'GET', url: '/v1/webhooks' })).statusCode).toBe(403);
  });

  it('refuses other schemes and unknown event types (400)', async () => {
    for (const payload of [
      { url: 'ftp://example.test/hooks', events: ['*'] },
      { url: 'file:///etc/passwd', events: ['*'] },
      { url: 'https://93.184.215.14/', events: ['instance.exploded'] },
      { url: 'https://93.184.215.14/', events: [] },
    ]) {
      const res = await create(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('refuses private, loopback and link-local targets unless SHIPYARD_WEBHOOK_ALLOW_PRIVATE=true (422)', async () => {
    const strict = await build({ config: { ...h.config, webhookAllowPrivate: false }, db: h.db, temporal: h.temporal });
    const lenient = await build({ config: { ...h.config, webhookAllowPrivate: true }, db: h.db, temporal: h.temporal });
    try {
      for (const url of [
        'http://127.0.0.1:8080/hooks',
        'http://localhost/hooks',
        'http://169.254.169.254/latest/meta-data/',
        'http://10.1.2.3/',
        'http://192.168.0.10/',
        'http://172.16.5.4/',
        'http://[::1]/',
        'http://[fe80::1]/',
        'http://[::ffff:169.254.169.254]/',
        'http://0.0.0.0/',
      ]) {
        const res = await create({ url, events: ['*'] }, strict);
        expect(res.statusCode, `${url}: ${res.body}`).toBe(422);
        expect(res.json().errors).toEqual([{ field: 'url', message: expect.any(String) }]);
      }
      const allowed = await create({ url: 'http://127.0.0.1:8080/hooks', events: ['*'] }, lenient);
      expect(allowed.statusCode).toBe(201);
      await h.call('admin', { method: 'DELETE', url: `/v1/webhooks/${allowed.json().webhook.id}` });
    } finally {
      await strict.close();
      await lenient.close();
    }
  });

  it('classifies addresses as the refusal needs', () => {
    for (const address of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '100.64.0.1', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
    for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) {
      expect(isPrivateAddress(address), address).toBe(false);
    }
  });
});
