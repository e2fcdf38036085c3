import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/**
 * GET /: a small page for a person who opens the server's address, pointing to the API documentation, the queue
 * dashboard and the README. The console takes `/` over later (the contract's `GET /`); until then this file is all of it.
 */
const STYLE = `body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; color: #1d2330; }
code { background: #f0f2f5; padding: 0 .25rem; border-radius: 3px; }
li { margin: .35rem 0; }`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Skyloft</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<h1>Skyloft</h1>
<p>This is Skyloft's API server: a self-hosted control plane for AWS, Azure and GCP.</p>
<ul>
  <li><a href="/docs">API documentation</a> (Swagger UI; the OpenAPI document is <a href="/openapi.json">/openapi.json</a>)</li>
  <li><a href="/admin/queues">Queue dashboard</a> (sign in with an API key)</li>
  <li><a href="/readyz">Readiness</a>: whether PostgreSQL and Redis answer</li>
</ul>
<p>Getting started: read <code>README.md</code> at the root of the Skyloft repository. The first account and its
admin key come from <code>npm run --silent cli -- bootstrap --email you@example.com --json</code>; every
<code>/v1</code> call then sends <code>Authorization: Bearer sky_...</code>.</p>
</body>
</html>
`;

/** No script, no request to anything: the page's one inline style is allowed by its hash. */
const CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function homePage(app: FastifyInstance): void {
  app.get('/', { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('content-security-policy', CSP).type('text/html; charset=utf-8').send(PAGE),
  );
}
