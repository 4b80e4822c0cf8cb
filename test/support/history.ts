// Reading workflow histories in tests the two ways there are: as Temporal stores them (raw,
// encrypted) and as Shipyard's own clients see them (through the data converter's codecs).
import type { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { History } from '../../temporal/proto';

/** The values in `payloads` as workflow code sees them: decrypted by the client's codecs, then converted. */
export async function decodedValues(client: Client, payloads: Payload[] | null | undefined): Promise<unknown[]> {
  const { payloadCodecs, payloadConverter } = client.options.loadedDataConverter;
  let decoded = payloads ?? [];
  for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return decoded.map((p) => payloadConverter.fromPayload(p));
}

/** The whole history of a run, exactly as the server holds it: nothing decoded. */
export async function rawHistory(connection: Connection, namespace: string, workflowId: string, runId?: string): Promise<temporal.api.history.v1.History> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await connection.workflowService.getWorkflowExecutionHistory({
      namespace,
      execution: { workflowId, runId },
      nextPageToken,
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return History.create({ events });
}

export type WirePayload = { metadata?: Record<string, string>; data?: string };

/**
 * Every payload in a history in the Temporal UI's JSON form (what it posts to a codec server),
 * with where it was found. Search attributes are left out: they are indexed, never encrypted.
 */
export function payloadsIn(history: temporal.api.history.v1.History): { path: string; payload: WirePayload }[] {
  const found: { path: string; payload: WirePayload }[] = [];
  const walk = (node: unknown, path: string) => {
    if (!node || typeof node !== 'object') return;
    if (path.endsWith('.searchAttributes')) return;
    const metadata = (node as WirePayload).metadata;
    if (metadata && typeof metadata === 'object' && typeof metadata.encoding === 'string') {
      found.push({ path, payload: node as WirePayload });
      return;
    }
    for (const [key, child] of Object.entries(node)) walk(child, `${path}.${key}`);
  };
  walk(History.toObject(history, { bytes: String }), 'history');
  return found;
}
