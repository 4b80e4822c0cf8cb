// An operation, live: from its event stream (GET /v1/operations/{id}/events, Server-Sent Events)
// when the API has one, else by polling GET /v1/operations/{id} once a second. The browser's
// EventSource cannot send the bearer key, so the stream is read with fetch and parsed here.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ApiProblem, get, request } from './client';
import type { Operation } from './types';

const POLL_MS = 1000;

/** Calls `onChange` with each state of the operation until it ends; the returned function stops watching. */
export function watchOperation(id: string, onChange: (operation: Operation) => void, onError: (problem: ApiProblem) => void): () => void {
  const abort = new AbortController();
  let stopped = false;
  const stop = () => {
    stopped = true;
    abort.abort();
  };

  const poll = async () => {
    while (!stopped) {
      try {
        const operation = await get<Operation>(`/v1/operations/${encodeURIComponent(id)}`);
        if (stopped) return;
        onChange(operation);
        if (operation.status !== 'running') return;
      } catch (err) {
        if (stopped) return;
        onError(err instanceof ApiProblem ? err : new ApiProblem(0, 'Watching the operation failed', String(err)));
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  const stream = async (): Promise<boolean> => {
    let res: Response;
    try {
      res = await request('GET', `/v1/operations/${encodeURIComponent(id)}/events`, { accept: 'text/event-stream', signal: abort.signal });
    } catch {
      // No stream here (an API without the route answers 404): polling does the same, slower.
      return false;
    }
    if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body?.cancel();
      return false;
    }
    let ended = false;
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (event.event !== 'operation' && event.event !== 'end') return;
        const operation = JSON.parse(event.data) as Operation;
        onChange(operation);
        if (event.event === 'end' || operation.status !== 'running') ended = true;
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || stopped) break;
        parser.feed(value);
        if (ended) break;
      }
    } catch {
      // The connection dropped: polling picks up from the operation as it is now.
    } finally {
      await reader.cancel().catch(() => undefined);
    }
    return ended || stopped;
  };

  void (async () => {
    const finished = await stream();
    if (!finished && !stopped) await poll();
  })();
  return stop;
}
