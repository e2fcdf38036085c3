import { fastifyCookie } from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { type Principal, authenticate, recordKeyUse, roleAtLeast } from '../../modules/accounts/index.ts';
import { DashboardSessions, SESSION_COOKIE } from '../../modules/dashboard/index.ts';
import { authenticateInstallationKey, claimsInstallationKey } from '../../modules/installation/index.ts';
import { ForbiddenError, RateLimitedError } from '../../shared/errors.ts';
import { sameOrigin } from '../../shared/route-scope.ts';
import { withTimeout } from '../../shared/timeout.ts';
import type { AppDeps } from '../../deps.ts';

/**
 * Authentication, rate limiting and role checks, in onRequest: before the body is read, so a bad key answers 401 even
 * when the body is also bad (the contract: "never 400").
 *
 * Whether a request needs a key is decided from the route the router matched, never from the raw URL: the raw URL
 * can spell one route many ways (`/%761/queues`, an absolute-form target `http://host/v1/queues`), all of which the
 * router maps to the same handler. It fails closed: every route declares `minRole` or `public: true` (checked when
 * the app is ready), and a request that matched no route still authenticates when its path looks like /v1, so
 * unknown /v1 paths answer 401 without a key and 404 with one.
 *
 * The caller is an account's API key (Authorization), or else a browser session (its cookie, made by POST /sign-in),
 * which acts as its key's user: it reads freely and changes only with an Origin header naming this host (a CSRF fence
 * beside SameSite=Strict). An installation key, or its session, belongs to no account: 403 on every route here.
 */
export function registerAuth(app: FastifyInstance, deps: AppDeps): void {
  const sessions = new DashboardSessions(deps.config.dashboard.sessionTtlMs);
  const routes: RouteOptions[] = [];
  // Kept by reference and checked once every plugin's own onRoute hooks (such as publicScope's) have run.
  app.addHook('onRoute', (route) => void routes.push(route));
  app.addHook('onReady', async () => {
    const undeclared = routes.filter((r) => !r.config?.public && !r.config?.minRole).map((r) => `${String(r.method)} ${r.url}`);
    if (undeclared.length > 0) {
      throw new Error(`Routes declaring neither minRole nor public: ${undeclared.join(', ')}: add config: { minRole: 'viewer' | 'operator' | 'admin' } or { public: true }`);
    }
  });

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (config.public === true) return;
    if (request.routeOptions.url === undefined && !looksLikeV1(request.url)) return; // no route: 404
    const principal = await callerOf(request, sessions);
    request.actor = {
      kind: 'user',
      ...principal,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      requestId: request.id,
    };
    request.log = request.log.child({ accountId: principal.accountId, keyId: principal.keyId });
    const use = await withTimeout(meterKey(deps, principal.keyId), 1_000, 'Redis').catch((err: unknown) => {
      // Fail open: Redis being down must not turn away requests the database can still accept (an operation row
      // is the source of truth and the reconciler enqueues it once Redis is back).
      request.log.warn({ err }, 'rate limiter unavailable (Redis); request allowed');
      return undefined;
    });
    if (use && use.count > deps.config.http.rateLimitPerMinute) throw new RateLimitedError(use.retryAfterSeconds);
    if (use?.firstThisMinute) {
      await recordKeyUse(request.em, principal.keyId).catch(async (err: unknown) => {
        request.log.warn({ err }, 'could not record key use');
        await deps.redis.del(use.gate).catch(() => {}); // let the next request try again
      });
    }
    if (config.minRole && !roleAtLeast(principal.role, config.minRole)) {
      throw new ForbiddenError(`This action needs the ${config.minRole} role; this key has ${principal.role}`);
    }
  });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const NOT_AN_ACCOUNT = 'An installation key reads or changes no account\'s data: use an API key of the account';

/** The account principal of a request, else 401 (no valid credential) or 403 (an installation key, a cross-site change). */
async function callerOf(request: FastifyRequest, sessions: DashboardSessions): Promise<Principal> {
  const token = request.headers.authorization === undefined ? sessionToken(request) : undefined;
  if (token !== undefined) {
    const session = await sessions.resolve(request.em, token);
    if (session?.kind === 'installation') throw new ForbiddenError(NOT_AN_ACCOUNT);
    if (session) {
      if (!SAFE_METHODS.has(request.method) && !sameOrigin(request)) {
        throw new ForbiddenError('Cross-site request refused: a change made with a browser session must carry an Origin header naming this host');
      }
      return { accountId: session.accountId, userId: session.userId, keyId: session.keyId, role: session.role };
    }
  }
  const raw = bearerOrBasic(request);
  if (claimsInstallationKey(raw)) {
    await authenticateInstallationKey(request.em, raw); // 401 unless it is a valid one
    throw new ForbiddenError(NOT_AN_ACCOUNT);
  }
  return authenticate(request.em, raw);
}

/** The session token from the Cookie header (parsed here: the cookie plugin is registered in the dashboard's scope only). */
export function sessionToken(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  return header ? fastifyCookie.parse(header)[SESSION_COOKIE] : undefined;
}

/** `Bearer <key>`, or HTTP Basic with the key as password (what terraform's http backend sends). */
export function bearerOrBasic(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/**
 * One Redis round trip per request: the key's count in a fixed one-minute window (the rate limit), and a SET NX
 * gate that lets last_used_at be written at most once a minute per key instead of on every request.
 */
async function meterKey(deps: AppDeps, keyId: string) {
  const windowMs = 60_000;
  const now = Date.now();
  const windowStart = now - (now % windowMs);
  const prefix = deps.config.redis.prefix;
  const counter = `${prefix}:rate:${keyId}:${windowStart}`;
  const gate = `${prefix}:key-used:${keyId}`;
  const replies = (await deps.redis.multi().incr(counter).pexpire(counter, windowMs * 2).set(gate, '1', 'PX', windowMs, 'NX').exec()) ?? [];
  return {
    count: Number(replies[0]?.[1]),
    firstThisMinute: replies[2]?.[1] === 'OK',
    gate,
    retryAfterSeconds: Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000)),
  };
}

/** For a request no route matched: whether its path, decoded and without an absolute-form origin, is under /v1. */
function looksLikeV1(url: string): boolean {
  let path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split('?')[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // broken percent-encoding: judged as written
  }
  return /^\/+v1(\/|$)/i.test(path);
}
