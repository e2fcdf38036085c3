import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate, recordKeyUse } from '../../modules/accounts/authenticate.ts';
import { roleAtLeast } from '../../modules/accounts/roles.ts';
import { ForbiddenError, RateLimitedError } from '../../shared/errors.ts';
import { withTimeout } from '../../shared/timeout.ts';
import type { AppDeps } from '../deps.ts';

/**
 * Authentication, rate limiting and role checks for every /v1 route, in onRequest: before the body is read, so a
 * bad key answers 401 even when the body is also bad (the contract: "never 400").
 */
export function registerAuth(app: FastifyInstance, deps: AppDeps): void {
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1') || route.config?.public) return;
    if (!route.config?.minRole) {
      throw new Error(`Route ${route.method} ${route.url} declares no minRole: add config: { minRole: 'viewer' | 'operator' | 'admin' }`);
    }
  });

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    // Every /v1 path authenticates, unknown ones too: without a key they answer 401, not 404.
    if (!request.url.startsWith('/v1') || config.public) return;
    const principal = await authenticate(request.em, bearerOrBasic(request));
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
