import type { BullBoardQueues } from '@bull-board/api/typings/app';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isConnectionError } from '../../db/connection-errors.ts';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/index.ts';
import { publicScope, sameOrigin } from '../../shared/route-scope.ts';
import { accountJobs, accountOf, type JobState, type Listing } from '../../queue/account-jobs.ts';
import { QUEUE_NAMES, type QueueName, type Queues } from '../../queue/catalog.ts';
import type { Actor } from '../../shared/actor.ts';
import { DependencyError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../../shared/errors.ts';
import { withTimeout } from '../../shared/timeout.ts';
import { recordAudit, recordInstallationAudit, type AuditEntry } from '../audit/index.ts';
import { BOARD_PATH, SIGN_IN_PATH, SIGN_IN_PATHS, SIGN_OUT_PATH, SIGN_OUT_PATHS, createBoards, type Boards } from './board.ts';
import { signInPage, signOutPage } from './pages.ts';
import { DashboardSessions, SESSION_COOKIE, type DashboardPrincipal } from './sessions.ts';
import { signInAttempt } from './throttle.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on every /admin route except the sign-in and sign-out pages: the browser's session. */
    dashboard: DashboardPrincipal | null;
  }
}

export { SESSION_COOKIE };
/** The cookie of sessions made before they covered /v1 (path /admin): cleared on sign-in and sign-out. */
const OLD_COOKIE = 'skyloft_dashboard';
const API_PREFIX = `${BOARD_PATH}/api/`;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** bull-board calls that take longer than this are answered 503: Redis is down or not answering. */
const BOARD_CALL_TIMEOUT_MS = 5_000;

/**
 * What an account's session may call in bull-board's API, by bull-board's own route. Anything else (pausing, resuming,
 * emptying, obliterating or cleaning a whole queue, adding jobs, editing a job's data, delay or priority, editing or
 * removing job schedulers, Redis and worker details, and any route a later bull-board adds) is the installation
 * key's alone: fail closed.
 * - read: answered over the account's own queue adapters (its counts, jobs and schedulers only);
 * - job: one job, which must be the account's (404 otherwise, exactly as an unknown id);
 * - bulk: retry, remove or promote every job of the account in one state: its own, never the queue's;
 * - scheduler: run one of the account's job schedulers now (what POST /v1/inventory/sync and friends already allow).
 * Acting at all needs the admin role.
 */
const ACCOUNT_ROUTES: Record<string, 'read' | 'job' | 'bulk' | 'scheduler'> = {
  'GET /api/queues': 'read',
  'GET /api/job-schedulers': 'read',
  'GET /api/queues/:queueName/default-job-options': 'read',
  'GET /api/queues/:queueName/job-data-schema': 'read',
  'GET /api/queues/:queueName/:jobId': 'job',
  'GET /api/queues/:queueName/:jobId/logs': 'job',
  'GET /api/queues/:queueName/:jobId/flow': 'job',
  'PUT /api/queues/:queueName/:jobId/retry': 'job',
  'PUT /api/queues/:queueName/:jobId/clean': 'job',
  'PUT /api/queues/:queueName/:jobId/promote': 'job',
  'PUT /api/queues/:queueName/retry/:queueStatus': 'bulk',
  'PUT /api/queues/:queueName/clean/:queueStatus': 'bulk',
  'PUT /api/queues/:queueName/promote': 'bulk',
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/run': 'scheduler',
};

/**
 * Browser sessions and the queue dashboard. POST /sign-in (or /admin/sign-in) takes an account's API key or an
 * installation key and sets the session cookie for path `/`: /v1 reads it too (src/http/plugins/auth.ts). The
 * dashboard (bull-board at /admin/queues) shows an installation key's session every account's jobs with every action,
 * and an account's session that account's jobs only (admins may retry, remove and promote them; operators and viewers
 * read). The /v1 bearer plugin does not cover these routes; the onRequest hook below does.
 */
/** What the dashboard uses of the process. */
export interface DashboardDeps {
  config: Config;
  queues: Queues;
  redis: Redis;
}

export function dashboardRoutes(deps: DashboardDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    const sessions = new DashboardSessions(deps.config.dashboard.sessionTtlMs);
    const boards = createBoards(deps.queues);
    publicScope(app); // not API-key routes: the onRequest hook below guards them with the sessions
    await app.register(cookie);
    await app.register(formbody);
    app.decorateRequest('dashboard', null);

    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url ?? '';
      if (SIGN_IN_PATHS.includes(route) || SIGN_OUT_PATHS.includes(route)) return;
      const token = request.cookies[SESSION_COOKIE];
      const session = await sessions.resolve(request.em, token).catch(postgresDown);
      if (!session) {
        if (token !== undefined) clearSessionCookie(reply);
        // The UI's own API calls get a JSON 401 (a redirect would be parsed as data); pages go to the sign-in.
        if (route.startsWith(API_PREFIX)) throw new UnauthorizedError(`Sign in at ${SIGN_IN_PATH}: no valid session`);
        return reply.redirect(SIGN_IN_PATH, 302);
      }
      request.dashboard = session;
      const who = session.kind === 'account' ? { accountId: session.accountId, keyId: session.keyId } : { installationKeyId: session.installationKeyId };
      request.log = request.log.child({ ...who, dashboardSessionId: session.sessionId });
      if (!SAFE_METHODS.has(request.method) && !sameOrigin(request)) {
        throw new ForbiddenError('Cross-site request refused: the Origin header must name this host');
      }
    });

    app.addHook('onSend', async (request, reply) => {
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'same-origin');
      if (!request.url.startsWith(`${BOARD_PATH}/static/`)) reply.header('cache-control', 'no-store');
    });

    for (const path of SIGN_IN_PATHS) {
      app.get(path, { schema: { hide: true } }, async (request, reply) => {
        const signedOut = (request.query as Record<string, unknown>)['signed-out'] !== undefined;
        return html(reply, 200, signInPage(signedOut ? { kind: 'info', text: 'You are signed out.' } : undefined));
      });

      app.post(path, { schema: { hide: true }, bodyLimit: 4_096 }, async (request, reply) => {
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
          reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, secure: true, sameSite: 'strict', expires: expiresAt });
          clearOldCookie(request, reply);
          const who = principal.kind === 'account' ? { accountId: principal.accountId, keyId: principal.keyId, role: principal.role } : { installationKeyId: principal.installationKeyId };
          request.log.info(who, 'dashboard sign-in');
          // There is no console yet: everyone lands on the dashboard.
          return reply.redirect(`${BOARD_PATH}/`, 303);
        } catch (err) {
          if (!(err instanceof UnauthorizedError)) throw err;
          request.log.info('dashboard sign-in refused: key not accepted');
          return html(reply, 401, signInPage({ kind: 'error', text: 'That key was not accepted: it is unknown, expired or revoked, or its user is deactivated.' }));
        }
      });
    }

    const signOut = async (request: FastifyRequest, reply: FastifyReply) => {
      await sessions.signOut(request.em, request.cookies[SESSION_COOKIE]).catch(postgresDown);
      clearSessionCookie(reply);
      clearOldCookie(request, reply);
      return reply.redirect(`${SIGN_IN_PATH}?signed-out`, 303);
    };

    // bull-board's header links are plain links, so its "Sign out" is a GET: one click on it ends the session at once
    // (the README's promise). Anything else that lands here (a link from another site, a prefetch, a browser that
    // sends no fetch metadata) gets a confirmation page whose form POSTs the sign-out.
    app.get(SIGN_OUT_PATH, { schema: { hide: true } }, async (request, reply) =>
      userNavigatedHere(request) ? signOut(request, reply) : html(reply, 200, signOutPage()),
    );

    for (const path of SIGN_OUT_PATHS) {
      app.post(path, { schema: { hide: true }, bodyLimit: 4_096 }, async (request, reply) => {
        if (!sameOrigin(request)) throw new ForbiddenError('Cross-site request refused: the Origin header must name this host');
        return signOut(request, reply);
      });
    }

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

type BoardResult = { status?: number; body?: unknown };

/** bull-board's API: an installation key's session over every job, an account's over its own (ACCOUNT_ROUTES). */
function registerBoardApi(app: FastifyInstance, deps: DashboardDeps, boards: Boards): void {
  for (const { method, route } of boards.routes) {
    app.route({
      method,
      url: `${BOARD_PATH}${route}`,
      schema: { hide: true },
      handler: async (request, reply) => {
        const session = request.dashboard!;
        const verb = request.method === 'HEAD' ? 'GET' : request.method;
        const mutates = !SAFE_METHODS.has(request.method);
        const params = (request.params ?? {}) as Record<string, string>;
        const queueName = queueNamed(params.queueName);
        const call = async (queues: BullBoardQueues, readOnly: boolean) => {
          const board = boards.board(readOnly);
          const handler = board.handler(verb, route);
          if (!handler) throw new NotFoundError('Dashboard API route', `${request.method} ${route}`);
          return (await handler({
            queues,
            uiConfig: board.uiConfig,
            params,
            query: (request.query ?? {}) as Record<string, string>,
            body: (request.body ?? {}) as Record<string, unknown>,
            headers: request.headers as Record<string, string | undefined>,
          })) as BoardResult;
        };

        const jobOf = (name: QueueName) => withTimeout(deps.queues.get(name).getJob(params.jobId ?? ''), BOARD_CALL_TIMEOUT_MS, 'Redis').catch(redisDown(deps));
        let owner: string | null = null;
        let work: Promise<BoardResult>;
        if (session.kind === 'installation') {
          // Whose job it was, for the audit row: read before the action (a removed job is gone after it).
          owner = mutates && queueName && params.jobId ? accountOf((await jobOf(queueName))?.data) : null;
          work = call(boards.board(false).queues, false);
        } else {
          const rule = ACCOUNT_ROUTES[`${verb} ${route}`];
          if (!rule) throw new ForbiddenError('Only an installation key may do this: an account sees and acts on its own jobs only');
          if (mutates && session.role !== 'admin') {
            throw new ForbiddenError(`Queue actions need the admin role; this dashboard session has ${session.role}`);
          }
          const readOnly = session.role !== 'admin';
          if (rule !== 'read' && !queueName) throw new NotFoundError('Queue', params.queueName);
          if (rule === 'job') {
            // Another account's job answers exactly as one that exists nowhere.
            const job = await jobOf(queueName!);
            if (!job || accountOf(job.data) !== session.accountId) throw new NotFoundError('Job', params.jobId);
          }
          work = rule === 'bulk'
            ? actOnOwnJobs(deps.queues, queueName!, route, params, session.accountId)
            : call(boards.accountQueues(session.accountId, readOnly), readOnly);
        }
        const result = await withTimeout(work, BOARD_CALL_TIMEOUT_MS, 'Redis').catch(redisDown(deps));
        const status = result.status ?? 200;
        if (mutates && status < 400) {
          const entry: AuditEntry = {
            action: 'queue.action',
            entityType: 'queue',
            entityId: params.queueName,
            after: { method: request.method, route, params },
          };
          // An account's action lands in its own log; an installation key's in the log of the account whose job it
          // touched, or in the installation's own (no account) for a whole queue.
          if (session.kind === 'account') {
            const { accountId, userId, keyId, role } = session;
            recordAudit(request.em, { kind: 'user', accountId, userId, keyId, role, ...actorInfo(request) }, entry);
          } else {
            recordInstallationAudit(request.em, { kind: 'installation', installationKeyId: session.installationKeyId, ...actorInfo(request) }, owner, entry);
          }
          await request.em.flush();
        }
        return reply.status(status).send(result.body);
      },
    });
  }
}

/** bull-board's status names for the states retry and clean take (`wait` is BullMQ's own name for waiting). */
const STATES: Record<string, JobState> = { completed: 'completed', failed: 'failed', delayed: 'delayed', prioritized: 'prioritized', waiting: 'waiting', wait: 'waiting' };

/**
 * An account's "retry all", "clean all" and "promote all": every job of the account in that state (a fresh scan, not
 * the shared pass), each read again and checked to be the account's before it is touched. Answers as bull-board does.
 */
async function actOnOwnJobs(queues: Queues, queueName: QueueName, route: string, params: Record<string, string>, accountId: string): Promise<BoardResult> {
  const kind = route.endsWith('/promote') ? 'promote' : route.includes('/retry/') ? 'retry' : 'clean';
  const state: JobState | undefined = kind === 'promote' ? 'delayed' : STATES[params.queueStatus ?? ''];
  if (!state || (kind === 'retry' && state !== 'failed' && state !== 'completed')) {
    throw new ValidationError(`Cannot ${kind} jobs that are ${params.queueStatus}`);
  }
  const queue = queues.get(queueName);
  const ids = await accountJobs(queues).scan(queueName, state satisfies Listing, accountId);
  let done = 0;
  for (let i = 0; i < ids.length; i += 100) {
    const results = await Promise.all(
      ids.slice(i, i + 100).map(async (id) => {
        const job = await queue.getJob(id);
        if (!job || accountOf(job.data) !== accountId) return false;
        // A job that moved on meanwhile (or is locked by a worker) is skipped, not an error.
        const act = kind === 'retry' ? job.retry(state as 'failed' | 'completed') : kind === 'promote' ? job.promote() : job.remove();
        return act.then(() => true, () => false);
      }),
    );
    done += results.filter(Boolean).length;
  }
  return kind === 'retry' ? { status: 200, body: { retried: done, skipped: ids.length - done } } : { status: 200, body: {} };
}

const queueNamed = (name: string | undefined): QueueName | undefined => (QUEUE_NAMES as readonly string[]).includes(name ?? '') ? (name as QueueName) : undefined;

const redisDown = (deps: DashboardDeps) => (err: unknown): never => {
  if (deps.redis.status !== 'ready' || (err instanceof Error && err.message.includes('did not answer'))) {
    throw new DependencyError('redis', 'Redis is unavailable; try again shortly', err);
  }
  throw err;
};

/** A PostgreSQL that cannot be reached answers 503 (the driver's raw socket errors are not ConnectionExceptions). */
function postgresDown(err: unknown): never {
  if (isConnectionError(err)) {
    throw new DependencyError('postgres', 'PostgreSQL is unavailable; try again shortly', err);
  }
  throw err;
}

function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, secure: true, sameSite: 'strict' });
}

function clearOldCookie(request: FastifyRequest, reply: FastifyReply): void {
  if (request.cookies[OLD_COOKIE] !== undefined) reply.clearCookie(OLD_COOKIE, { path: '/admin', httpOnly: true, secure: true, sameSite: 'strict' });
}

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
    .type('text/html; charset=utf-8')
    .send(body);
}

/**
 * Whether the browser says (fetch metadata, https://www.w3.org/TR/fetch-metadata/) that a person followed a link of
 * this site, or typed or bookmarked the address: a top-level navigation, same-origin or user-initiated, and no
 * prefetch. A page of another site cannot make a browser say this.
 */
function userNavigatedHere(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['sec-fetch-mode'] === 'navigate' && h['sec-fetch-dest'] === 'document' && (h['sec-fetch-site'] === 'same-origin' || h['sec-fetch-site'] === 'none') &&
    h['sec-purpose'] === undefined && h.purpose === undefined;
}

const actorInfo = (request: FastifyRequest): Pick<Actor, 'ip' | 'userAgent' | 'requestId'> => ({
  ip: request.ip,
  userAgent: request.headers['user-agent'],
  requestId: request.id,
});
