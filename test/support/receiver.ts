// A webhook receiver for tests: a real HTTP server on 127.0.0.1 that keeps every request it gets
// and answers with the status `answer` picks (200 unless told otherwise).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Stops listening; `listen()` starts again on the same port. */
  close(): Promise<void>;
  listen(): Promise<void>;
}

/** `attempt` counts the requests carrying the same Shipyard-Delivery, this one included. */
export async function startReceiver(answer: (request: { attempt: number }) => number = () => 200, port = 0): Promise<Receiver> {
  const received: Received[] = [];
  let server: Server | undefined;
  const receiver: Receiver = {
    url: '',
    port,
    received,
    async listen() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const delivery = req.headers['shipyard-delivery'];
          const status = answer({ attempt: received.filter((r) => r.headers['shipyard-delivery'] === delivery).length + 1 });
          received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), status });
          res.writeHead(status).end();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(receiver.port, '127.0.0.1', () => resolve());
      });
      receiver.port = (server.address() as { port: number }).port;
      receiver.url = `http://127.0.0.1:${receiver.port}/hooks`;
    },
    async close() {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
    },
  };
  await receiver.listen();
  return receiver;
}

/** Verifies a Shipyard-Signature header as a receiver would (README). */
export function verifySignature(secret: string, header: string | undefined, body: string, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!parts.v1 || !Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
