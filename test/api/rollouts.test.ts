// Rollout requests and the registry webhook through the API, against the real catalogue and
// Temporal. No worker polls this file's task queue: a rollout it starts stays at its start (the
// end-to-end behaviour is in test/e2e/rollouts.test.ts), which is all these answers need.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRegistryPush } from '../../api/routes/registry-hook';
import { rolloutWorkflowIdFor } from '../../domain/rollouts';
import { uniqueSuffix } from '../support/config';
import { type Harness, startHarness } from './harness';

const secret = `whsec-${uniqueSuffix()}-0123456789`;
let h: Harness;
let fleet: string[];
const started = new Set<string>();

beforeAll(async () => {
  fleet = [];
  h = await startHarness({
    SHIPYARD_REGISTRY_WEBHOOK_SECRET: secret,
    SHIPYARD_AUTO_ROLLOUT_TAGS: '^2\\.\\d+\\.\\d+$',
    SHIPYARD_APP_IMAGE: 'registry.shipyard.test/rollout-api-test',
  });
  for (let i = 0; i < 3; i++) fleet.push((await h.settledInstance('ready', '1.0.0')).slug);
  // The webhook's rollouts touch only this file's instances (the catalogue is shared).
  h.config.autoRolloutSelector = { slugs: fleet };
});

afterAll(async () => {
  for (const id of started) await h.temporal.workflow.getHandle(rolloutWorkflowIdFor(id)).terminate('api test cleanup').catch(() => undefined);
  await h?.close();
});

const post = (payload: unknown, role: 'operator' | 'viewer' = 'operator') => h.call(role, { method: 'POST', url: '/v1/rollouts', payload: payload as object });

describe('POST /v1/rollouts', () => {
  it('starts a rollout of the selected ready instances, and refuses a second one of the same version naming it', async () => {
    const version = `1.1.${uniqueSuffix().replace(/\D/g, '').slice(0, 6) || '1'}`;
    const res = await post({ version, selector: { slugs: fleet }, strategy: { canary: 1, waves: [50, 100] } });
    expect(res.statusCode, res.body).toBe(202);
    const { rollout } = res.json();
    started.add(rollout.id);
    expect(res.headers.location).toBe(`/v1/rollouts/${rollout.id}`);
    expect(rollout).toMatchObject({ version, status: 'running', counts: { total: 3, pending: 3 }, failures: [] });
    expect(rollout.waves.map((w: { size: number }) => w.size)).toEqual([1, 1, 1]);

    const again = await post({ version, selector: { slugs: fleet.slice(0, 1) } });
    expect(again.statusCode, again.body).toBe(409);
    expect(again.json().detail).toContain(rollout.id);

    const read = await h.call('viewer', { method: 'GET', url: `/v1/rollouts/${rollout.id}` });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id: rollout.id, version });
    const list = await h.call('viewer', { method: 'GET', url: '/v1/rollouts?limit=100' });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((r: { id: string }) => r.id)).toContain(rollout.id);
  });

  it('two requests for one version at the same moment start one rollout; the other is refused naming it', async () => {
    const version = `1.2.${uniqueSuffix().replace(/\D/g, '').slice(0, 6) || '1'}`;
    const answers = await Promise.all([0, 1, 2].map(() => post({ version, selector: { slugs: fleet } })));
    const accepted = answers.filter((a) => a.statusCode === 202);
    expect(accepted, answers.map((a) => a.body).join('\n')).toHaveLength(1);
    const { id } = accepted[0]!.json().rollout;
    started.add(id);
    for (const refused of answers.filter((a) => a.statusCode !== 202)) {
      expect(refused.statusCode, refused.body).toBe(409);
      expect(refused.json().detail).toContain(id);
    }
  });

  it('422 naming the selector when it selects nothing; 400 for waves that do not end at 100; 403 for a viewer', async () => {
    const none = await post({ version: '9.9.9', selector: { slugs: [`nobody-${uniqueSuffix()}`] } });
    expect(none.statusCode, none.body).toBe(422);
    expect(none.json().detail).toContain('selector');
    const waves = await post({ version: '9.9.9', selector: { slugs: fleet }, strategy: { waves: [50, 90] } });
    expect(waves.statusCode).toBe(400);
    expect(waves.json().errors).toEqual([expect.objectContaining({ field: 'strategy.waves' })]);
    expect((await post({ version: '9.9.9' }, 'viewer')).statusCode).toBe(403);
  });

  it('404 for a rollout that does not exist, read or steered', async () => {
    expect((await h.call('viewer', { method: 'GET', url: '/v1/rollouts/ro_nothing' })).statusCode).toBe(404);
    expect((await h.call('operator', { method: 'POST', url: '/v1/rollouts/ro_nothing/pause' })).statusCode).toBe(404);
  });
});

describe('POST /v1/hooks/registry', () => {
  const deliver = (body: string, signature?: string) =>
    h.app.inject({
      method: 'POST',
      url: '/v1/hooks/registry',
      headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}) },
      payload: body,
    });

  it('401 without a signature or with a wrong one; 400 for a signed malformed body', async () => {
    const body = JSON.stringify({ repository: h.config.appImage, tag: '2.0.0' });
    expect((await deliver(body)).statusCode).toBe(401);
    expect((await deliver(body, signRegistryPush('another-secret-entirely', body))).statusCode).toBe(401);
    expect((await deliver(body, signRegistryPush(secret, `${body} `))).statusCode).toBe(401);
    const malformed = JSON.stringify({ repo: h.config.appImage });
    expect((await deliver(malformed, signRegistryPush(secret, malformed))).statusCode).toBe(400);
  });

  it('ignores another repository and a tag that does not match, saying why', async () => {
    const other = JSON.stringify({ repository: 'registry.shipyard.test/something-else', tag: '2.0.0' });
    const ignoredRepo = await deliver(other, signRegistryPush(secret, other));
    expect(ignoredRepo.statusCode).toBe(200);
    expect(ignoredRepo.json().ignored).toContain('not the app image');
    const latest = JSON.stringify({ repository: h.config.appImage, tag: 'latest' });
    const ignoredTag = await deliver(latest, signRegistryPush(secret, latest));
    expect(ignoredTag.statusCode).toBe(200);
    expect(ignoredTag.json().ignored).toContain('does not match');
  });

  it('a matching push starts one rollout; the same push delivered again answers the same rollout', async () => {
    const tag = `2.${Date.now() % 100_000}.0`;
    const body = JSON.stringify({ repository: h.config.appImage, tag, digest: `sha256:${'ab'.repeat(32)}` });
    const first = await deliver(body, signRegistryPush(secret, body));
    expect(first.statusCode, first.body).toBe(202);
    const { rollout } = first.json();
    started.add(rollout.id);
    expect(rollout).toMatchObject({ version: tag, counts: { total: fleet.length } });
    const second = await deliver(body, signRegistryPush(secret, body));
    expect(second.statusCode, second.body).toBe(202);
    expect(second.json().rollout.id).toBe(rollout.id);
    const runs = [];
    for await (const run of h.temporal.workflow.list({ query: `WorkflowId = '${rolloutWorkflowIdFor(rollout.id)}'` })) runs.push(run);
    expect(runs).toHaveLength(1);
  });
});
