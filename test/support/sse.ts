// A Server-Sent Events client for tests: what a browser's EventSource or the CLI reads, parsed by
// eventsource-parser, with every message and comment kept in arrival order.
import { createParser } from 'eventsource-parser';
import { expect } from 'vitest';

export interface SseMessage {
  event: string;
  id: string | undefined;
  data: any;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** Problem body when the answer was not a stream. */
  problem?: any;
  messages: SseMessage[];
  comments: string[];
  /** Resolves once the server has ended the stream (or the test closed it). */
  ended: Promise<void>;
  /** Whether the server ended it (not the test). */
  endedByServer(): boolean;
  /** Waits until a message satisfies `predicate`; returns it. */
  until(predicate: (m: SseMessage) => boolean, timeoutMs?: number): Promise<SseMessage>;
  close(): void;
}

export async function openSse(baseUrl: string, path: string, key: string | undefined, options: { lastEventId?: string } = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}${path}`, {
    headers: {
      accept: 'text/event-stream',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
    },
    signal: abort.signal,
  });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let byServer = false;
  let closedByTest = false;
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      problem: text ? JSON.parse(text) : undefined,
      messages,
      comments,
      ended: Promise.resolve(),
      endedByServer: () => true,
      until: () => Promise.reject(new Error(`not a stream: ${res.status} ${text}`)),
      close: () => undefined,
    };
  }
  const parser = createParser({
    onEvent: (e) => messages.push({ event: e.event ?? 'message', id: e.id, data: JSON.parse(e.data) }),
    onComment: (c) => comments.push(c.trim()),
  });
  const ended = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      byServer = !closedByTest;
    } catch (err) {
      if (!closedByTest) throw err;
    }
  })();
  return {
    status: res.status,
    headers: res.headers,
    messages,
    comments,
    ended,
    endedByServer: () => byServer,
    async until(predicate, timeoutMs = 120_000) {
      let found: SseMessage | undefined;
      await expect
        .poll(() => (found = messages.find(predicate)), { timeout: timeoutMs, interval: 50, message: `no such message among ${JSON.stringify(messages.map((m) => m.event))}` })
        .toBeDefined();
      return found!;
    },
    close() {
      closedByTest = true;
      abort.abort();
    },
  };
}
