import type { FastifyInstance, FastifyRequest } from 'fastify';

// Route-facing helpers that src/http and the modules' routes share (below both, so neither imports the other).

/**
 * CSRF fence beside SameSite=Strict: a state-changing request made with a session cookie must come from a page of
 * this host, as its Origin header says (browsers send one with every POST, PUT, PATCH and DELETE).
 */
export function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (!origin || !request.headers.host) return false;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false; // "null" and other opaque origins
  }
}

/**
 * Marks every route registered in this scope as not guarded by API keys: for plugins whose routes are public (the
 * OpenAPI UI) or guard themselves (the dashboard's cookie sessions). Call first thing in the scope.
 */
export function publicScope(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
  });
}
