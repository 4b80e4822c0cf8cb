// Runs the API: `tsx api/server.ts`. Migrations are a separate, explicit step (`npm run migrate`).
import { loadConfig } from '../domain/config';
import { connectCatalogue } from '../db/client';
import { connectTemporalClient } from '../temporal/data-converter';
import { build } from './app';

const config = loadConfig(process.env);
const db = connectCatalogue(config.databaseUrl);
const { client: temporal, connection } = await connectTemporalClient(config);
const app = await build({ config, db, temporal }, { logger: { level: 'info' } });

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'closing: finishing in-flight requests');
  // Draining is bounded so a stuck request cannot keep a stopping process alive; a second
  // signal (handlers are `once`) kills it outright.
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  try {
    await app.close();
    await connection.close();
    await db.$client.end({ timeout: 5 });
  } finally {
    clearTimeout(force);
  }
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void shutdown(signal));

await app.listen({ host: config.apiHost, port: config.apiPort });
