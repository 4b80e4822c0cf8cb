// drizzle-kit only generates SQL from db/schema.ts here; migrations are applied by
// `npm run migrate` (`shipyard migrate`, db/migrate.ts), never by `drizzle-kit push`.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
  strict: true,
});
