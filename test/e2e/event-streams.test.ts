// The event streams as the CLI and the dashboard read them: Server-Sent Events from the real API
// process, while real operations run on the testbed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix } from '../support/config';
import { openSse, type SseMessage, type SseStream } from '../support/sse';
import { type Stack, startStack } from '../support/stack';

let stack: Stack;
let key: string;
const open = (path: string, options: { lastEventId?: string; key?: string | null } = {}) =>
  openSse(stack.api.baseUrl, path, options.key === null ? undefined : (options.key ?? key), options);

beforeAll(async () => {
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '15', SHIPYARD_STREAM_KEEPALIVE_SECONDS: '1', SHIPYARD_TEMPORAL_UI_URL: 'http://127.0.0.1:8233' });
  key = stack.config.adminKey!;
});
afterAll(async () => {
  await stack?.stop();
});

const ids = (messages: SseMessage[]) => messages.map((m) => Number(m.id));
const audits = (messages: SseMessage[]) => messages.filter((m) => m.event === 'audit').map((m) => m.data);

/** Every message's id is larger than the one before. */
function expectIncreasing(messages: SseMessage[]): void {
  const seen = ids(messages);
  expect(seen.every((id, i) => i === 0 || id > seen[i - 1]!), `ids ${seen.join(', ')}`).toBe(true);
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${stack.api.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

async function provision(slug: string, ownerEmail = `${slug}@streams.test`) {
  const created = await stack.api.call('POST', '/v1/instances', { name: `Streams ${slug}`, slug, plan: 'starter', ownerEmail });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  return created.body as { instance: { id: string; slug: string }; operation: { id: string } };
}

describe('GET /v1/operations/{id}/events', () => {
  let slug: string;
  let provisionId: string;
  let stream: SseStream;

  it('a provision: the operation on connect, its steps as they change, its audit events, then end with the final operation', async () => {
    slug = `sse-${uniqueSuffix()}`;
    const created = await provision(slug);
    provisionId = created.operation.id;
    stream = await open(`/v1/operations/${provisionId}/events`);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await stream.ended;
    expect(stream.endedByServer()).toBe(true);

    const { messages } = stream;
    expect(messages[0]).toMatchObject({ event: 'operation', data: { id: provisionId, kind: 'provision', status: 'running' } });
    expectIncreasing(messages);
    // Steps are seen moving: each state message is a change, with more steps done than the first.
    const states = messages.filter((m) => m.event !== 'audit').map((m) => m.data);
    const done = (op: { steps: { status: string }[] }) => op.steps.filter((s) => s.status === 'done').length;
    expect(states.length).toBeGreaterThanOrEqual(2);
    const progress = states.map(done);
    expect(progress.at(-1), `steps done in each message: ${progress.join(', ')}`).toBeGreaterThan(progress[0]!);
    // No message repeats the one before it: a message is a change.
    for (let i = 1; i < states.length; i++) expect(states[i]).not.toEqual(states[i - 1]);

    const end = messages.at(-1)!;
    expect(end.event).toBe('end');
    expect(end.data).toMatchObject({ id: provisionId, status: 'succeeded', workflowId: `instance:${slug}` });
    expect(end.data.steps.every((s: { status: string }) => s.status === 'done')).toBe(true);
    // The same JSON as GET /v1/operations/{id}.
    expect(end.data).toEqual((await stack.api.call('GET', `/v1/operations/${provisionId}`)).body);
    expect(end.data.temporalUiUrl).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/instance%3A${slug}/${end.data.runId}/history`);
    // The instance's audit events since the operation started, as GET …/events has them.
    const trail = (await stack.api.call('GET', `/v1/instances/${slug}/events?limit=100`)).body.items;
    expect(audits(messages)).toEqual(trail);
    expect(audits(messages).map((e) => `${e.action} ${e.outcome}`)).toEqual(expect.arrayContaining(['provision requested', 'provision succeeded']));
    // Quiet moments carry keep-alive comments (every second here; 15 s by default).
    expect(stream.comments).toContain('keep-alive');
  });

  it('a failing upgrade: the failed wait, the way back, and end with the outcome', async () => {
    const upgrade = await stack.api.call('POST', `/v1/instances/${slug}/upgrade`, { version: 'fail-2.0.0' });
    expect(upgrade.status, JSON.stringify(upgrade.body)).toBe(202);
    const watched = await open(`/v1/operations/${upgrade.body.operation.id}/events`);
    await watched.ended;
    expect(watched.endedByServer()).toBe(true);
    const states = watched.messages.filter((m) => m.event !== 'audit').map((m) => m.data);
    // While it runs, the stream says what the rollout waits for.
    const waiting = states.flatMap((op) => op.steps).find((s: { name: string; detail?: string }) => s.name === 'wait for rollout' && s.detail);
    expect(waiting?.detail, JSON.stringify(states.map((s) => s.steps))).toBeTruthy();
    const end = watched.messages.at(-1)!;
    expect(end.event).toBe('end');
    expect(end.data.status).toBe('rolled_back');
    expect(end.data.error).toMatch(/fail-2\.0\.0/);
    expect(end.data.steps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'wait for rollout', status: 'failed' }),
        expect.objectContaining({ name: 'restore previous version', status: 'done' }),
      ]),
    );
    expect(audits(watched.messages).map((e) => `${e.action} ${e.outcome}`)).toEqual(['upgrade requested', 'upgrade rolled_back']);
  });

  it('resumes after Last-Event-ID: what came after it, nothing the client already had', async () => {
    const suspend = await stack.api.call('POST', `/v1/instances/${slug}/suspend`);
    expect(suspend.status, JSON.stringify(suspend.body)).toBe(202);
    const operationId = suspend.body.operation.id;
    const first = await open(`/v1/operations/${operationId}/events`);
    // The first message, then the client drops.
    const had = await first.until(() => true);
    first.close();
    const resumed = await open(`/v1/operations/${operationId}/events`, { lastEventId: had.id });
    await resumed.ended;
    const all = [had, ...resumed.messages];
    expectIncreasing(all);
    // Nothing of what the client had comes again, and together the two are the whole story.
    expect(resumed.messages.map((m) => m.id)).not.toContain(had.id);
    expect(resumed.messages.filter((m) => m.event === 'operation').map((m) => m.data)).not.toContainEqual(had.data);
    const trail = (await stack.api.call('GET', `/v1/instances/${slug}/events?limit=100`)).body.items.filter((e: { operationId?: string }) => e.operationId === operationId);
    expect(audits(all).filter((e) => e.operationId === operationId)).toEqual(trail);
    expect(all.at(-1)).toMatchObject({ event: 'end', data: { id: operationId, status: 'succeeded' } });

    // Resuming an ended operation from its end: the end again (the stream always closes with it), no audit event twice.
    const again = await open(`/v1/operations/${operationId}/events`, { lastEventId: all.at(-1)!.id });
    await again.ended;
    expect(again.messages.map((m) => m.event)).toEqual(['end']);
  });

  it('authorised as GET /v1/operations/{id}: no key is 401, a key bound to another owner gets 404', async () => {
    const anonymous = await open(`/v1/operations/${provisionId}/events`, { key: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const bound = await stack.api.call('POST', '/v1/api-keys', { name: `other-${uniqueSuffix()}`, role: 'viewer', owner: 'someone-else@streams.test' });
    expect(bound.status).toBe(201);
    const other = await open(`/v1/operations/${provisionId}/events`, { key: bound.body.key });
    expect(other.status).toBe(404);
    expect((await open('/v1/operations/op_nothing/events')).status).toBe(404);
    // The owner's own key reads it.
    const own = await stack.api.call('POST', '/v1/api-keys', { name: `own-${uniqueSuffix()}`, role: 'viewer', owner: `${slug}@streams.test` });
    const mine = await open(`/v1/operations/${provisionId}/events`, { key: own.body.key });
    await mine.ended;
    expect(mine.messages.at(-1)).toMatchObject({ event: 'end', data: { id: provisionId } });
  });

  it('a hundred watchers share one reader: the Temporal reads per second of one, and none left once they go', async () => {
    const resume = await stack.api.call('POST', `/v1/instances/${slug}/resume`);
    expect(resume.status, JSON.stringify(resume.body)).toBe(202);
    const operationId = resume.body.operation.id;
    const readsBefore = await metric('shipyard_stream_operation_reads_total');
    const started = Date.now();
    const watchers = await Promise.all(Array.from({ length: 100 }, () => open(`/v1/operations/${operationId}/events`)));
    await Promise.all(watchers.map((w) => w.until((m) => m.event === 'operation' || m.event === 'end')));
    expect(watchers.map((w) => w.status)).toEqual(Array(100).fill(200));
    // Scraped first, checked only if the operation is still running after: its end closes every watcher.
    const [watching, readers] = [await metric('shipyard_stream_watchers', '{stream="operation"}'), await metric('shipyard_stream_operation_readers')];
    const running = await stack.api.call('GET', `/v1/operations/${operationId}`);
    if (running.body.status === 'running') expect([watching, readers]).toEqual([100, 1]);
    await Promise.all(watchers.map((w) => w.ended));
    const seconds = (Date.now() - started) / 1000;
    const reads = (await metric('shipyard_stream_operation_reads_total')) - readsBefore;
    // One reader, about once a second: nowhere near a hundred a second.
    expect(reads).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    // Every watcher saw the same story, ending with the same end.
    const ends = watchers.map((w) => w.messages.at(-1));
    expect(new Set(ends.map((e) => JSON.stringify(e))).size).toBe(1);
    expect(ends[0]).toMatchObject({ event: 'end', data: { status: 'succeeded' } });
    await expect.poll(() => metric('shipyard_stream_watchers', '{stream="operation"}')).toBe(0);
    expect(await metric('shipyard_stream_operation_readers')).toBe(0);

    // Clients that leave before the end take their reader with them.
    const suspend = await stack.api.call('POST', `/v1/instances/${slug}/suspend`);
    const leaving = await Promise.all(Array.from({ length: 10 }, () => open(`/v1/operations/${suspend.body.operation.id}/events`)));
    await Promise.all(leaving.map((w) => w.until(() => true)));
    for (const w of leaving) w.close();
    await expect.poll(() => metric('shipyard_stream_watchers', '{stream="operation"}')).toBe(0);
    await expect.poll(() => metric('shipyard_stream_operation_readers')).toBe(0);
    await stack.api.settled(suspend.body.operation.id);
  });
});

describe('GET /v1/events', () => {
  it('filters by instance and kind, and a key bound to an owner sees only its instances', async () => {
    const a = `fleet-a-${uniqueSuffix()}`;
    const b = `fleet-b-${uniqueSuffix()}`;
    const [createdA, createdB] = await Promise.all([provision(a), provision(b)]);
    await Promise.all([stack.api.settled(createdA.operation.id), stack.api.settled(createdB.operation.id)]);

    const bound = await stack.api.call('POST', '/v1/api-keys', { name: `fleet-${uniqueSuffix()}`, role: 'viewer', owner: `${a}@streams.test` });
    const suspendsOfA = await open(`/v1/events?instance=${a}&kind=suspend`);
    const everything = await open('/v1/events');
    const ownerA = await open('/v1/events', { key: bound.body.key });
    expect([suspendsOfA.status, everything.status, ownerA.status]).toEqual([200, 200, 200]);

    const [suspendA, suspendB] = await Promise.all([
      stack.api.call('POST', `/v1/instances/${a}/suspend`),
      stack.api.call('POST', `/v1/instances/${b}/suspend`),
    ]);
    const idA = suspendA.body.operation.id;
    const idB = suspendB.body.operation.id;
    const endOf = (s: SseStream, id: string) =>
      s.until((m) => m.event === 'operation' && m.data.id === id && m.data.status !== 'running');
    await Promise.all([endOf(suspendsOfA, idA), endOf(everything, idA), endOf(everything, idB), endOf(ownerA, idA)]);
    // The outcome's audit event comes with the operation's end, in the same read or the next.
    await everything.until((m) => m.event === 'audit' && m.data.operationId === idB && m.data.outcome === 'succeeded');
    await suspendsOfA.until((m) => m.event === 'audit' && m.data.operationId === idA && m.data.outcome === 'succeeded');

    for (const s of [suspendsOfA, everything, ownerA]) expectIncreasing(s.messages);
    // Only A's suspend, and only audit events of suspends on A.
    expect(new Set(suspendsOfA.messages.filter((m) => m.event === 'operation').map((m) => m.data.id))).toEqual(new Set([idA]));
    expect(suspendsOfA.messages.filter((m) => m.event === 'audit').every((m) => m.data.action === 'suspend' && m.data.operationId === idA)).toBe(true);
    // The fleet sees both; the bound key sees A's and nothing of B's.
    expect(everything.messages.filter((m) => m.event === 'operation').map((m) => m.data.id)).toEqual(expect.arrayContaining([idA, idB]));
    expect(ownerA.messages.some((m) => m.data.id === idB || m.data.operationId === idB)).toBe(false);
    expect(ownerA.messages.some((m) => m.data.instanceId === createdB.instance.id)).toBe(false);

    // Resuming the fleet stream after its first audit message: the audit events after it, none twice.
    const firstAudit = everything.messages.find((m) => m.event === 'audit')!;
    const resumed = await open('/v1/events', { lastEventId: firstAudit.id });
    const lastAudit = audits(everything.messages).at(-1)!;
    await resumed.until((m) => m.event === 'audit' && m.data.id === lastAudit.id);
    const seen = everything.messages.slice(0, everything.messages.indexOf(firstAudit) + 1).filter((m) => m.event === 'audit').map((m) => m.data.id);
    // Up to the last one waited for: later batches (other files share the catalogue) may reach one socket before the other.
    const after = audits(everything.messages).map((e) => e.id).filter((id) => !seen.includes(id) && id <= lastAudit.id);
    const resumedIds = audits(resumed.messages).map((e) => e.id);
    expect(resumedIds.filter((id) => seen.includes(id))).toEqual([]);
    expect(after.filter((id) => !resumedIds.includes(id))).toEqual([]);
    for (const s of [suspendsOfA, everything, ownerA, resumed]) s.close();

    // Unknown instance, or one outside the key's owner: 404; a kind that does not exist: 400.
    expect((await open(`/v1/events?instance=${b}`, { key: bound.body.key })).status).toBe(404);
    expect((await open('/v1/events?kind=nonsense')).status).toBe(400);
    expect((await open('/v1/events', { key: null })).status).toBe(401);
  });

  it('the server closing ends every stream', async () => {
    // Checked on a stack of its own: this one's API is stopped.
    const own = await startStack();
    try {
      const fleet = await openSse(own.api.baseUrl, '/v1/events', own.config.adminKey!);
      expect(fleet.status).toBe(200);
      await own.stop();
      await fleet.ended;
      expect(fleet.endedByServer()).toBe(true);
    } finally {
      await own.stop().catch(() => undefined);
    }
  });
});
