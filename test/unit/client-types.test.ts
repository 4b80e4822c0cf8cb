// The checked-in typed client (client/openapi.d.ts) is what the routes' schemas make today: a
// route or schema changed without `npm run client:generate` fails here, not in a user's compiler.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientTypesPath, clientTypesSource } from '../../cli/client-types';
import { openApiDocument } from '../../api/document';
import { problemTypes, problemTypeUri } from '../../api/problems';

// Building the app and its document takes a few seconds on a busy 2-core machine (12 s seen).
describe('the typed client', { timeout: 60_000 }, () => {
  it('matches the OpenAPI document the app builds (run `npm run client:generate` if not)', async () => {
    const regenerated = await clientTypesSource();
    expect(regenerated === readFileSync(clientTypesPath, 'utf8'), 'client/openapi.d.ts is stale: run `npm run client:generate`').toBe(true);
    // Building the app and running openapi-typescript: a few seconds, more on a busy machine.
  }, 60_000);
});

describe('the OpenAPI document', { timeout: 60_000 }, () => {
  it('is OpenAPI 3.1 and lists every problem type with its status and meaning', async () => {
    const document = (await openApiDocument()) as { openapi: string; components: { schemas: Record<string, { anyOf?: { const?: string; enum?: string[]; title: string; description: string }[] }> } };
    expect(document.openapi).toBe('3.1.0');
    // Each a one-value string (@fastify/swagger writes a `const` as a one-item `enum`).
    const listed = (document.components.schemas.ProblemType?.anyOf ?? []).map((t) => ({ ...t, uri: t.const ?? t.enum?.[0] }));
    expect(listed.map((t) => t.uri)).toEqual(Object.keys(problemTypes).map((slug) => problemTypeUri(slug as keyof typeof problemTypes)));
    for (const t of listed) expect(t.description, t.uri).toMatch(/^\d{3}: \S/);
    // Distinct: a client can tell each refusal apart by `type` alone.
    expect(new Set(listed.map((t) => t.uri)).size).toBe(listed.length);
  }, 60_000);

  it("has every problem type in api/README.md's table", () => {
    const readme = readFileSync(new URL('../../api/README.md', import.meta.url), 'utf8');
    for (const slug of Object.keys(problemTypes)) expect(readme, `api/README.md lacks ${slug}`).toContain(`| \`${slug}\` |`);
  });
});
