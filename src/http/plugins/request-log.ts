import type { FastifyInstance, FastifyRequest } from 'fastify';
import { runInContext } from '../../shared/context.ts';

/**
 * The request's work context and its one log line.
 *
 * Context: every hook and handler runs inside the request's context, so jobs it enqueues carry its id
 * (src/queue/catalog.ts) and every line logged meanwhile names it. Entered in onRequest and entered again in
 * preValidation: the body is read from stream events, which run outside the context the first hook set (the same
 * two-step as @fastify/request-context; nodejs/node#34430).
 *
 * Log: one line per request, written when the answer is sent: method, route pattern, path without the query
 * string, status, duration, request id, and (once authenticated) account and key ids. Never a body, a query string
 * or a header: those are where secrets travel (the Authorization header, a credential's body).
 */
export function registerRequestContext(app: FastifyInstance): void {
  const enter = (request: FastifyRequest, _reply: unknown, done: () => void) => runInContext({ requestId: request.id }, done);
  app.addHook('onRequest', enter);
  app.addHook('preValidation', enter);
  // Keep-alive connections must not hold a stopping server open: every answer sent once close() began says
  // `Connection: close`, so each socket ends with its in-flight request (idle ones Fastify closes itself).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      path: request.url.split('?')[0],
      status,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (status >= 500) request.log.error(line, 'request failed');
    else request.log.info(line, 'request completed');
  });
}
