// The dashboard (dashboard/, built by `npm run build` into dist/ui/) as static files under /ui.
// The files are public, like /docs: they hold no data. Every data call the page makes carries
// the user's API key to /v1. Kept out of the OpenAPI document: it is a page, not the API.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Problem } from '../problems';

/**
 * Where the built dashboard is: beside the running code in the production build (dist/ui next to
 * dist/shipyard.js and its chunks), or the checkout's dist/ui when the API runs from source.
 */
export function dashboardDir(): string | undefined {
  const candidates = [new URL('./ui/', import.meta.url), new URL('../../dist/ui/', import.meta.url)].map((url) => fileURLToPath(url));
  return candidates.find((dir) => existsSync(`${dir}index.html`));
}

// Everything the page loads is its own (bundled, no CDN); it talks to this origin only. Inline
// styles only for the invoice, shown in a sandboxed frame (srcdoc, which inherits this policy)
// from the API's own HTML with its <style>; no inline script anywhere.
const contentSecurityPolicy = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export const uiRoutes: FastifyPluginAsync = async (app) => {
  const root = dashboardDir();
  app.get('/ui', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  if (!root) {
    app.get('/ui/*', { schema: { hide: true } }, async () => {
      throw new Problem(404, 'the dashboard is not built: run `npm run build` (it writes dist/ui/)');
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/ui/',
    schemaHide: true,
    // Hashed asset names change with their content; index.html names them, so it is never cached.
    setHeaders: (res, path) => {
      res.setHeader('content-security-policy', contentSecurityPolicy);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
};
