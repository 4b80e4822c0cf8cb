// An operation's changes as they happen: the API's Server-Sent Events stream
// (GET /v1/operations/{id}/events) read over fetch, since a browser-style EventSource cannot send
// the bearer key. When the answer is no event stream (an older API without the route, a proxy
// that strips it), the operation is polled once a second instead; a stream cut short is resumed
// from the last event id, and polled after repeated cuts.
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { type Operation, ShipyardProblem, type ShipyardClient, unwrap, type Schemas } from '../../client/index';
import type { Connection } from './profiles';

export type OperationUpdate =
  | { type: 'operation'; operation: Operation; final: boolean }
  | { type: 'audit'; event: Schemas['Event'] };

export interface FollowOptions {
  pollMs?: number;
  signal?: AbortSignal;
  /** Told once if the stream is not available and polling takes over. */
  onFallback?(reason: string): void;
}

const MAX_RESUMES = 5;

export async function* followOperation(
  connection: Connection,
  client: ShipyardClient,
  id: string,
  options: FollowOptions = {},
): AsyncGenerator<OperationUpdate> {
  let lastEventId: string | undefined;
  let fallback: string | undefined;
  for (let attempt = 0; attempt <= MAX_RESUMES && fallback === undefined; attempt++) {
    const response = await fetch(`${connection.url.replace(/\/+$/, '')}/v1/operations/${encodeURIComponent(id)}/events`, {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${connection.key}`,
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
      signal: options.signal,
    }).catch((err: unknown) => {
      // Unreachable at all: polling says so with the client's own error.
      fallback = `the event stream could not be opened (${(err as Error).message})`;
      return undefined;
    });
    if (!response) break;
    if (response.status === 401 || response.status === 403) throw new ShipyardProblem(response.status, await bodyOf(response));
    if (!response.ok || !response.headers.get('content-type')?.startsWith('text/event-stream') || !response.body) {
      await response.body?.cancel();
      fallback = `GET /v1/operations/${id}/events answered ${response.status} ${response.headers.get('content-type') ?? ''}`.trim();
      break;
    }
    const messages = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    try {
      for await (const message of messages) {
        if (message.id) lastEventId = message.id;
        if (message.event === 'operation' || message.event === 'end') {
          const operation = JSON.parse(message.data) as Operation;
          const final = message.event === 'end' || operation.status !== 'running';
          yield { type: 'operation', operation, final };
          if (message.event === 'end') return;
        } else if (message.event === 'audit') {
          yield { type: 'audit', event: JSON.parse(message.data) as Schemas['Event'] };
        }
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      // A connection cut mid-stream: resumed below from the last event id.
      if (!(err instanceof TypeError) && !(err instanceof Error && /terminated|aborted|socket/i.test(err.message))) throw err;
    }
  }
  options.onFallback?.(fallback ?? `the event stream was cut ${MAX_RESUMES + 1} times`);
  yield* pollOperation(client, id, options);
}

/** GET /v1/operations/{id} every `pollMs` until the operation ends; yields each change. */
export async function* pollOperation(client: ShipyardClient, id: string, options: FollowOptions = {}): AsyncGenerator<OperationUpdate> {
  let previous = '';
  for (;;) {
    const operation = (await unwrap(client.GET('/v1/operations/{id}', { params: { path: { id } }, signal: options.signal }))) as Operation;
    const final = operation.status !== 'running';
    const seen = JSON.stringify(operation);
    if (seen !== previous || final) yield { type: 'operation', operation, final };
    previous = seen;
    if (final) return;
    await sleep(options.pollMs ?? 1000, options.signal);
    if (options.signal?.aborted) return;
  }
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
