import type { FastifyInstance } from 'fastify';

/**
 * The Content-Security-Policy of every HTML answer that does not set a stricter one itself (the dashboard's
 * bull-board page, the /docs Swagger UI): nothing may load from another origin, so no page Skyloft serves tells a
 * third party who is looking, and every page works offline. Inline styles stay allowed because both UIs set them;
 * their icons are data: URIs. test/browser/dashboard.browser.test.ts counts requests to other origins (zero).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function registerPagePolicy(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', PAGE_CSP);
    }
    return payload;
  });
}
