// Cursor pagination of the list routes: pages follow each other without gaps or repeats, are
// full until the last, and a cursor is only accepted by the list that made it. The histories are
// written straight into the catalogue (finished operations, events), as the workflows would.
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../api/app';
import { newId } from '../../db/ids';
import { markInstance } from '../../db/instances';
import { finishOperation, insertInstanceWithOperation, insertOperationIfAllowed } from '../../db/operations';
import { recordEvent } from '../../db/events';
import { workflowIdFor } from '../../domain/operations';
import { shipyardDataConverter } from '../../temporal/data-converter';
import { type Harness, startHarness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const actor = 'pagination-test';

/** An instance with `operations` finished operations (oldest first) and `events` events. */
async function instanceWithHistory(operations: number, events: number) {
  const slug = h.slug('pages');
  const instanceId = newId('ins');
  const { operation } = await insertInstanceWithOperation(
    h.db,
    { id: instanceId, slug, name: 'Pages', plan: 'starter', version: '1.0.0', ownerEmail: 'owner@example.com' },
    { id: newId('op'), instanceId, kind: 'provision', workflowId: workflowIdFor(slug), actor },
  );
  await finishOperation(h.db, operation.id, { status: 'succeeded', steps: [] });
  const operationIds = [operation.id];
  for (let i = 1; i < operations; i++) {
    const started = await insertOperationIfAllowed(
      h.db,
      { id: newId('op'), instanceId, kind: 'upgrade', workflowId: workflowIdFor(slug), actor },
      () => undefined,
    );
    if (!('operation' in started)) throw new Error(`operation ${i} not admitted: ${JSON.stringify(started)}`);
    await finishOperation(h.db, started.operation.id, { status: 'succeeded', steps: [] });
    operationIds.push(started.operation.id);
  }
  for (let i = 0; i < events; i++) {
    await recordEvent(h.db, { instanceId, actor, action: 'note', outcome: 'succeeded', message: `event ${i}` });
  }
  await markInstance(h.db, instanceId, { status: 'ready' });
  return { slug, instanceId, operationIds };
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Every page of a list, following nextCursor from the first. */
async function allPages<T>(url: string): Promise<Page<T>[]> {
  const pages: Page<T>[] = [];
  let cursor: string | null = null;
  do {
    const separator = url.includes('?') ? '&' : '?';
    const res = await h.call('viewer', { method: 'GET', url: cursor ? `${url}${separator}cursor=${cursor}` : url });
    expect(res.statusCode, res.body).toBe(200);
    const page: Page<T> = res.json();
    pages.push(page);
    cursor = page.nextCursor;
    expect(pages.length).toBeLessThan(10_000);
  } while (cursor);
  return pages;
}

describe('GET /v1/instances/{idOrSlug}/operations', () => {
  it('pages newest first, without gaps or repeats', async () => {
    const { slug, operationIds } = await instanceWithHistory(5, 0);
    const pages = await allPages<{ id: string; kind: string }>(`/v1/instances/${slug}/operations?limit=2`);
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
    expect(pages.flatMap((p) => p.items.map((o) => o.id))).toEqual([...operationIds].reverse());
    expect(pages.at(-1)!.nextCursor).toBeNull();
  });

  it('answers one page of the default size when no limit is given', async () => {
    const { slug } = await instanceWithHistory(3, 0);
    const res = await h.call('viewer', { method: 'GET', url: `/v1/instances/${slug}/operations` });
    expect(res.json()).toMatchObject({ items: [{ kind: 'upgrade' }, { kind: 'upgrade' }, { kind: 'provision' }], nextCursor: null });
  });
});

describe('GET /v1/instances/{idOrSlug}/events', () => {
  it('pages oldest first, without gaps or repeats', async () => {
    const { slug } = await instanceWithHistory(1, 25);
    const pages = await allPages<{ id: number; message?: string }>(`/v1/instances/${slug}/events?limit=10`);
    expect(pages.map((p) => p.items.length)).toEqual([10, 10, 5]);
    expect(pages.flatMap((p) => p.items.map((e) => e.message))).toEqual(Array.from({ length: 25 }, (_, i) => `event ${i}`));
  });

  it('has an empty last page only when nothing follows, never a dangling cursor', async () => {
    const { slug } = await instanceWithHistory(1, 4);
    const pages = await allPages<{ id: number }>(`/v1/instances/${slug}/events?limit=2`);
    expect(pages.map((p) => p.items.length)).toEqual([2, 2]);
  });
});

describe('cursors', () => {
  it('are accepted only by the list that made them', async () => {
    const { slug } = await instanceWithHistory(3, 3);
    const first = async (url: string) => (await h.call('viewer', { method: 'GET', url })).json().nextCursor as string;
    const cursors = {
      operations: await first(`/v1/instances/${slug}/operations?limit=1`),
      events: await first(`/v1/instances/${slug}/events?limit=1`),
      instances: await first('/v1/instances?limit=1'),
    };
    for (const [list, url] of [
      ['operations', `/v1/instances/${slug}/operations`],
      ['events', `/v1/instances/${slug}/events`],
      ['instances', '/v1/instances'],
    ] as const) {
      for (const [from, cursor] of Object.entries(cursors)) {
        const res = await h.call('viewer', { method: 'GET', url: `${url}?cursor=${cursor}` });
        if (from === list) {
          expect(res.statusCode, `${from} cursor on ${list}`).toBe(200);
        } else {
          expect(res.statusCode, `${from} cursor on ${list}`).toBe(400);
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(res.json().errors).toEqual([{ field: 'cursor', message: 'is invalid' }]);
        }
      }
    }
  });
});

describe('GET /v1/instances', () => {
  it('answers from the catalogue alone: no Temporal call, however many operations run', async () => {
    // Instances whose provision is running, as far as the catalogue knows.
    const running: { instanceId: string; operationId: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const slug = h.slug('listed');
      const instanceId = newId('ins');
      const operationId = newId('op');
      await insertInstanceWithOperation(
        h.db,
        { id: instanceId, slug, name: 'Listed', plan: 'starter', version: '1.0.0', ownerEmail: 'owner@example.com' },
        { id: operationId, instanceId, kind: 'provision', workflowId: workflowIdFor(slug), actor },
      );
      running.push({ instanceId, operationId });
    }
    let calls = 0;
    const temporal = new Client({
      connection: h.temporal.connection,
      namespace: h.config.temporalNamespace,
      dataConverter: shipyardDataConverter(h.config),
      interceptors: {
        workflow: [
          {
            describe: (input, next) => (calls++, next(input)),
            query: (input, next) => (calls++, next(input)),
          },
        ],
      },
    });
    const app = await build({ config: h.config, db: h.db, temporal });
    try {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/instances?status=provisioning&limit=100',
        headers: { authorization: `Bearer ${h.config.adminKey}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().items.filter((i: { currentOperation: unknown }) => i.currentOperation !== null).length).toBeGreaterThanOrEqual(3);
      expect(calls).toBe(0);
    } finally {
      await app.close();
      // No workflow stands behind these rows: settle them so nothing reconciles them later.
      for (const { instanceId, operationId } of running) {
        await finishOperation(h.db, operationId, { status: 'failed', steps: [], error: 'test row' });
        await markInstance(h.db, instanceId, { status: 'failed' });
      }
    }
  });
});

describe('GET /v1/instances?status=', () => {
  it('filters in the query: every page but the last is full', async () => {
    // Three of our own, so there are at least two pages whatever else the catalogue holds.
    for (let i = 0; i < 3; i++) {
      const { instanceId } = await instanceWithHistory(1, 0);
      await markInstance(h.db, instanceId, { status: 'suspended' });
    }
    const pages = await allPages<{ status: string }>('/v1/instances?status=suspended&limit=2');
    expect(pages.length).toBeGreaterThanOrEqual(2);
    for (const page of pages.slice(0, -1)) expect(page.items).toHaveLength(2);
    for (const page of pages) for (const item of page.items) expect(item.status).toBe('suspended');
  });
});
