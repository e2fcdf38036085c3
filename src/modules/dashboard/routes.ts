import cookie from '@fastify/cookie';
import { isConnectionError } from '../../db/connection-errors.ts';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../http/deps.ts';
import { publicScope } from '../../http/plugins/auth.ts';
import type { Actor } from '../../shared/actor.ts';
import { DependencyError, ForbiddenError, NotFoundError, UnauthorizedError } from '../../shared/errors.ts';
import { withTimeout } from '../../shared/timeout.ts';
import { recordAudit } from '../audit/service.ts';
import { BOARD_PATH, SIGN_IN_PATH, SIGN_OUT_PATH, createBoards, type Boards } from './board.ts';
import { signInPage, signOutPage } from './pages.ts';
import { DashboardSessions, type DashboardPrincipal } from './sessions.ts';
import { signInAttempt } from './throttle.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on every /admin route except the sign-in and sign-out pages: the browser's dashboard session. */
    dashboard: DashboardPrincipal | null;
  }
}

export const SESSION_COOKIE = 'skyloft_dashboard';
const API_PREFIX = `${BOARD_PATH}/api/`;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** bull-board calls that take longer than this are answered 503: Redis is down or not answering. */
const BOARD_CALL_TIMEOUT_MS = 5_000;

/**
 * /admin: the BullMQ dashboard (bull-board) at /admin/queues behind a cookie session made by signing in with an
 * API key at /admin/sign-in. Admins get every action; operators and viewers get a read-only board, and their
 * mutating API calls answer 403 whatever the UI shows. The /v1 bearer plugin does not cover /admin; this one does.
 */
export function dashboardRoutes(deps: AppDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    const sessions = new DashboardSessions(deps.config.dashboard.sessionTtlMs);
    const boards = createBoards(deps.queues);
    publicScope(app); // not API-key routes: the onRequest hook below guards them with the dashboard's sessions
    await app.register(cookie);
    await app.register(formbody);
    app.decorateRequest('dashboard', null);

    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url ?? '';
      if (route === SIGN_IN_PATH || route === SIGN_OUT_PATH) return;
      const token = request.cookies[SESSION_COOKIE];
      const session = await sessions.resolve(request.em, token).catch(postgresDown);
      if (!session) {
        if (token !== undefined) clearSessionCookie(reply);
        // The UI's own API calls get a JSON 401 (a redirect would be parsed as data); pages go to the sign-in.
        if (route.startsWith(API_PREFIX)) throw new UnauthorizedError(`Sign in at ${SIGN_IN_PATH}: no valid dashboard session`);
        return reply.redirect(SIGN_IN_PATH, 302);
      }
      request.dashboard = session;
      request.log = request.log.child({ accountId: session.accountId, keyId: session.keyId, dashboardSessionId: session.sessionId });
      if (!SAFE_METHODS.has(request.method) && !sameOrigin(request)) {
        throw new ForbiddenError('Cross-site request refused: the Origin (or Referer) header must name this host');
      }
    });

    app.addHook('onSend', async (request, reply) => {
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'same-origin');
      if (!request.url.startsWith(`${BOARD_PATH}/static/`)) reply.header('cache-control', 'no-store');
    });

    app.get(SIGN_IN_PATH, { schema: { hide: true } }, async (request, reply) => {
      const signedOut = (request.query as Record<string, unknown>)['signed-out'] !== undefined;
      return html(reply, 200, signInPage(signedOut ? { kind: 'info', text: 'You are signed out.' } : undefined));
    });

    app.post(SIGN_IN_PATH, { schema: { hide: true }, bodyLimit: 4_096 }, async (request, reply) => {
      if (!sameOrigin(request)) {
        return html(reply, 403, signInPage({ kind: 'error', text: 'This form must be sent from this site (the Origin header did not match).' }));
      }
      const attempt = await signInAttempt(deps, request.ip).catch((err: unknown) => {
        request.log.warn({ err }, 'sign-in rate limiter unavailable (Redis); attempt allowed');
        return undefined;
      });
      if (attempt && !attempt.allowed) {
        reply.header('retry-after', String(attempt.retryAfterSeconds));
        return html(reply, 429, signInPage({ kind: 'error', text: `Too many sign-in attempts from your address; try again in ${attempt.retryAfterSeconds} s.` }));
      }
      const body = request.body as Record<string, unknown> | undefined;
      const rawKey = typeof body?.apiKey === 'string' ? body.apiKey.trim() : undefined;
      // A new session replaces the browser's old one (no session fixation, no orphan rows).
      await sessions.signOut(request.em, request.cookies[SESSION_COOKIE]).catch(postgresDown);
      try {
        const { token, expiresAt, principal } = await sessions.signIn(request.em, rawKey, actorInfo(request)).catch(postgresDown);
        reply.setCookie(SESSION_COOKIE, token, { path: '/admin', httpOnly: true, secure: true, sameSite: 'strict', expires: expiresAt });
        request.log.info({ accountId: principal.accountId, keyId: principal.keyId, role: principal.role }, 'dashboard sign-in');
        return reply.redirect(`${BOARD_PATH}/`, 303);
      } catch (err) {
        if (!(err instanceof UnauthorizedError)) throw err;
        request.log.info('dashboard sign-in refused: key not accepted');
        return html(reply, 401, signInPage({ kind: 'error', text: 'That API key was not accepted: it is unknown, expired or revoked, or its user is deactivated.' }));
      }
    });

    // A GET confirmation page (bull-board's header links are plain links), whose form POSTs the sign-out.
    app.get(SIGN_OUT_PATH, { schema: { hide: true } }, async (_request, reply) => html(reply, 200, signOutPage()));

    app.post(SIGN_OUT_PATH, { schema: { hide: true }, bodyLimit: 4_096 }, async (request, reply) => {
      if (!sameOrigin(request)) throw new ForbiddenError('Cross-site request refused: the Origin (or Referer) header must name this host');
      await sessions.signOut(request.em, request.cookies[SESSION_COOKIE]).catch(postgresDown);
      clearSessionCookie(reply);
      return reply.redirect(`${SIGN_IN_PATH}?signed-out`, 303);
    });

    // bull-board's adapter installs its own error handler, which answers 500 with the raw error message; errors
    // under /admin (PostgreSQL down during the session check included) go through the app's one handler instead.
    const keepOurErrorHandler = (scope: FastifyInstance) =>
      new Proxy(scope, {
        get: (target, prop) => {
          if (prop === 'setErrorHandler') return () => target;
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    await app.register((scope, opts, done) => boards.ui(keepOurErrorHandler(scope), opts, done), { prefix: BOARD_PATH });
    registerBoardApi(app, deps, boards);
  };
}

/** bull-board's API, each call answered by the board of the session's role. */
function registerBoardApi(app: FastifyInstance, deps: AppDeps, boards: Boards): void {
  for (const { method, route } of boards.routes) {
    app.route({
      method,
      url: `${BOARD_PATH}${route}`,
      schema: { hide: true },
      handler: async (request, reply) => {
        const session = request.dashboard!;
        const mutates = !SAFE_METHODS.has(request.method);
        if (mutates && session.role !== 'admin') {
          throw new ForbiddenError(`Queue actions need the admin role; this dashboard session has ${session.role}`);
        }
        const board = boards.board(session.role !== 'admin');
        const handler = board.handler(request.method === 'HEAD' ? 'GET' : request.method, route);
        if (!handler) throw new NotFoundError('Dashboard API route', `${request.method} ${route}`);
        const call = handler({
          queues: board.queues,
          uiConfig: board.uiConfig,
          params: (request.params ?? {}) as Record<string, string>,
          query: (request.query ?? {}) as Record<string, string>,
          body: (request.body ?? {}) as Record<string, unknown>,
          headers: request.headers as Record<string, string | undefined>,
        });
        const result = await withTimeout(Promise.resolve(call), BOARD_CALL_TIMEOUT_MS, 'Redis').catch((err: unknown) => {
          if (deps.redis.status !== 'ready' || (err instanceof Error && err.message.includes('did not answer'))) {
            throw new DependencyError('redis', 'Redis is unavailable; try again shortly', err);
          }
          throw err;
        });
        const status = result.status ?? 200;
        if (mutates && status < 400) {
          // Queues are installation-wide; the audit row lands in the acting user's account.
          recordAudit(request.em, { kind: 'user', ...session, ...actorInfo(request) }, {
            action: 'queue.action',
            entityType: 'queue',
            entityId: (request.params as Record<string, string | undefined>).queueName,
            after: { method: request.method, route, params: request.params },
          });
          await request.em.flush();
        }
        return reply.status(status).send(result.body);
      },
    });
  }
}

/**
 * CSRF fence beside SameSite=Strict: a state-changing request must come from a page of this host. Browsers send
 * Origin on every POST/PUT/PATCH; Referer is the fallback for the few that omit it.
 */
function sameOrigin(request: FastifyRequest): boolean {
  const source = request.headers.origin ?? request.headers.referer;
  if (!source || !request.headers.host) return false;
  try {
    return new URL(source).host === request.headers.host;
  } catch {
    return false; // "null" and other opaque origins
  }
}

/** A PostgreSQL that cannot be reached answers 503 (the driver's raw socket errors are not ConnectionExceptions). */
function postgresDown(err: unknown): never {
  if (isConnectionError(err)) {
    throw new DependencyError('postgres', 'PostgreSQL is unavailable; try again shortly', err);
  }
  throw err;
}

function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/admin', httpOnly: true, secure: true, sameSite: 'strict' });
}

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
    .type('text/html; charset=utf-8')
    .send(body);
}

const actorInfo = (request: FastifyRequest): Pick<Actor, 'ip' | 'userAgent' | 'requestId'> => ({
  ip: request.ip,
  userAgent: request.headers['user-agent'],
  requestId: request.id,
});
