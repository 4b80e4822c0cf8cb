// What Temporal stores of a provision run by the real worker and API processes: read raw (as
// anyone with access to the Temporal server or its database would) it holds no customer data,
// step error or failure message in clear, only the run's documented search attributes; decoded through the API's codec endpoint (as the
// Temporal UI does) it reads normally.
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowIdFor } from '../../domain/operations';
import { uniqueSuffix } from '../support/config';
import { payloadsIn, rawHistory, type WirePayload } from '../support/history';
import { until } from '../support/until';
import { type Stack, startStack } from '../support/stack';
import { History } from '../../temporal/proto';

let stack: Stack;
let plainConnection: Connection;

beforeAll(async () => {
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '5' });
  // A client without Shipyard's data converter: it sees what the server stores.
  plainConnection = await Connection.connect({ address: stack.config.temporalAddress });
});
afterAll(async () => {
  await plainConnection?.close();
  await stack?.stop();
});

const text = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');
const coreMarkerFields = new Set(['id', 'deprecated', 'seq', 'attempt', 'activity_id', 'activity_type', 'complete_time', 'original_schedule_time', 'backoff']);

describe('workflow history encryption', () => {
  it('a provision leaves nothing readable in the raw history, and decodes through the codec endpoint', async () => {
    const marker = `${uniqueSuffix()}${uniqueSuffix()}`;
    const slug = `enc-${uniqueSuffix()}`;
    const name = `Secret Customer ${marker}`;
    const ownerEmail = `owner-${marker}@secret-customer.test`;
    const version = `fail-1.0.0-${marker}`;
    const created = await stack.api.call('POST', '/v1/instances', { name, slug, plan: 'starter', ownerEmail, version });
    expect(created.status).toBe(202);
    const op = await stack.api.settled(created.body.operation.id);
    expect(op.status).toBe('failed');
    const stepError = op.steps.find((s) => s.name === 'wait for rollout')?.error;
    expect(stepError).toContain(version);

    // The catalogue shows the operation failed a moment before Temporal records the run's end.
    const history = await until('the run to be closed', async () => {
      const events = await rawHistory(plainConnection, stack.config.temporalNamespace, workflowIdFor(slug));
      return events.events.some((e) => e.workflowExecutionFailedEventAttributes) ? events : undefined;
    });
    // The one thing Temporal stores in clear by design: the run's search attributes (the slug, the
    // kind, the plan and the version it aims at), so the Temporal UI can find runs by them. Nothing
    // else of the instance: no name, no e-mail, no error.
    const started = history.events.find((e) => e.workflowExecutionStartedEventAttributes)!.workflowExecutionStartedEventAttributes!;
    const attributes = Object.fromEntries(
      Object.entries(started.searchAttributes?.indexedFields ?? {})
        .filter(([key]) => key.startsWith('Shipyard'))
        .map(([key, payload]) => [key, JSON.parse(Buffer.from(payload.data ?? []).toString('utf8')) as unknown]),
    );
    expect(attributes).toEqual({ ShipyardInstance: slug, ShipyardOperation: 'provision', ShipyardPlan: 'starter', ShipyardVersion: version });
    const withoutSearchAttributes = History.decode(History.encode(history).finish());
    for (const event of withoutSearchAttributes.events) {
      if (event.workflowExecutionStartedEventAttributes) event.workflowExecutionStartedEventAttributes.searchAttributes = null;
      if (event.upsertWorkflowSearchAttributesEventAttributes) event.upsertWorkflowSearchAttributesEventAttributes.searchAttributes = null;
    }
    const stored = Buffer.from(History.encode(withoutSearchAttributes).finish());
    for (const secret of [name, ownerEmail, version, stepError!, marker]) expect(stored.includes(secret), secret).toBe(false);

    // Every payload is encrypted (inputs, activity arguments and results, memo, failure details),
    // and failures show Temporal's placeholder instead of their message.
    // The one exception is what Temporal's core SDK writes into markers itself, past the data
    // converter: a patch's id, and a local activity's sequence number, type, attempt and times.
    // None of it comes from Shipyard or its customers; a local activity's result is encrypted.
    const payloads = payloadsIn(history);
    const coreBookkeeping = payloads.filter((p) => /\.markerRecordedEventAttributes\.details\.(patch-data|data)\.payloads\.\d+$/.test(p.path));
    for (const { payload } of coreBookkeeping) {
      expect(text(payload.metadata?.encoding)).toBe('json/plain');
      expect(Object.keys(JSON.parse(text(payload.data)))).toSatisfy((keys: string[]) => keys.every((key) => coreMarkerFields.has(key)));
    }
    expect(payloads.length - coreBookkeeping.length).toBeGreaterThan(20);
    expect(
      payloads
        .filter((p) => !coreBookkeeping.includes(p) && text(p.payload.metadata?.encoding) !== 'binary/encrypted')
        .map((p) => p.path),
    ).toEqual([]);
    const failed = history.events.find((e) => e.workflowExecutionFailedEventAttributes)?.workflowExecutionFailedEventAttributes;
    expect(failed?.failure?.message).toBe('Encoded failure');

    const res = await fetch(`${stack.api.baseUrl}/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': stack.config.temporalNamespace },
      body: JSON.stringify({ payloads: payloads.map((p) => p.payload) }),
    });
    expect(res.status).toBe(200);
    const decoded = ((await res.json()) as { payloads: WirePayload[] }).payloads.map((p) => text(p.data)).join('\n');
    expect(decoded).toContain(`"version":"${version}"`);
    expect(decoded).toContain(JSON.stringify(stepError).slice(1, -1));
    expect(decoded).toContain(`provision failed: `);
    // Name and e-mail never reach Temporal at all: workflows carry ids, the catalogue holds the rest.
    expect(decoded).not.toContain(ownerEmail);
  });
});
