import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate } from '../../modules/accounts/index.ts';
import { DashboardSessions } from '../../modules/dashboard/index.ts';
import { authenticateInstallationKey, claimsInstallationKey } from '../../modules/installation/index.ts';
import { credentialFreshness } from '../../modules/inventory/index.ts';
import { queueCounts } from '../../queue/counts.ts';
import { AppError, ForbiddenError } from '../../shared/errors.ts';
import { httpRequestDuration, registry, setMetricsSource } from '../../shared/metrics.ts';
import type { AppDeps } from '../../deps.ts';
import { bearerOrBasic, sessionToken } from './auth.ts';
import { sendError } from './errors.ts';

/** Redis must answer the queue gauges within this, or the scrape goes on without them. */
const QUEUE_SCRAPE_TIMEOUT_MS = 1_000;
/** The freshness query runs at most this often per process, whatever the number of scrapers. */
const INVENTORY_CACHE_MS = 15_000;
const INVENTORY_TIMEOUT_MS = 2_000;
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'LOCK', 'UNLOCK']);

export interface MetricsOptions {
  /**
   * Whether this process reports inventory freshness (a PostgreSQL query per scrape, cached 15 s). The api role's
   * server does; the probe server of worker- and scheduler-only processes does not, so a scrape of every process
   * runs the query once per api replica, not once per process.
   */
  inventoryFreshness: boolean;
}

/**
 * The request duration histogram for every route of `app`, and GET /metrics (Prometheus text format). Register it
 * before the routes. /metrics is the installation's, for its scrapers: it answers a client whose address is in
 * SKYLOFT_METRICS_ALLOW (the socket's, never X-Forwarded-For, unless the app trusts proxies), the bearer
 * SKYLOFT_METRICS_TOKEN, or an installation key (Bearer, or Basic with the key as password, as on /v1). It holds every
 * account's load, so an account's key answers 403 even from an allowed address; a key that is not valid, 401.
 */
export function registerMetrics(app: FastifyInstance, deps: AppDeps, opts: MetricsOptions): void {
  app.addHook('onResponse', async (request, reply) => {
    httpRequestDuration.observe(
      {
        method: KNOWN_METHODS.has(request.method) ? request.method : 'other',
        // The pattern (`/v1/resources/:id`), never the URL: bounded label values. Unmatched URLs share one.
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  const removals = [
    setMetricsSource('queues', () => queueCounts(deps.queues, QUEUE_SCRAPE_TIMEOUT_MS), { timeoutMs: QUEUE_SCRAPE_TIMEOUT_MS, cacheMs: 0 }),
  ];
  if (opts.inventoryFreshness) {
    removals.push(setMetricsSource('inventory', () => credentialFreshness(deps.orm.em.fork()), { timeoutMs: INVENTORY_TIMEOUT_MS, cacheMs: INVENTORY_CACHE_MS }));
  }
  app.addHook('onClose', async () => {
    for (const remove of removals) remove();
  });

  const allowed = allowList(deps.config.metrics.allow);
  const sessions = new DashboardSessions(deps.config.dashboard.sessionTtlMs);
  app.get('/metrics', { schema: { hide: true }, config: { public: true } }, async (request, reply) => {
    const denied = await metricsAccess(request, deps, allowed, sessions);
    if (denied) return sendError(reply, denied.httpStatus, denied.code, denied.message);
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(body);
  });
}

const ACCOUNT_REFUSED = "/metrics is the installation's: an account's key or session may not read it, from any address (use SKYLOFT_METRICS_TOKEN or an installation key)";

/** undefined when the request may read /metrics, else the error to answer. */
async function metricsAccess(request: FastifyRequest, deps: AppDeps, allowed: BlockList, sessions: DashboardSessions): Promise<AppError | undefined> {
  const em = deps.orm.em.fork();
  try {
    if (request.headers.authorization !== undefined) {
      // A credential that is given is always checked, even from an allowed address: a bad one answers 401, an
      // account's 403, and neither silently passes as the address.
      const raw = bearerOrBasic(request);
      if (raw !== undefined && deps.config.metrics.token !== undefined && sameSecret(raw, deps.config.metrics.token)) return undefined;
      if (claimsInstallationKey(raw)) {
        await authenticateInstallationKey(em, raw);
        return undefined;
      }
      await authenticate(em, raw);
      return new ForbiddenError(ACCOUNT_REFUSED);
    }
    const token = sessionToken(request);
    const session = token === undefined ? undefined : await sessions.resolve(em, token);
    if (session?.kind === 'installation') return undefined;
    if (session) return new ForbiddenError(ACCOUNT_REFUSED);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  // request.ip is the socket's address; Fastify reads X-Forwarded-For into it only under trustProxy (not set today),
  // so a client cannot claim an allowed address with a header.
  const address = request.ip;
  if (address && isAllowed(allowed, address)) return undefined;
  return new ForbiddenError('Reading /metrics needs a client address listed in SKYLOFT_METRICS_ALLOW, the bearer token SKYLOFT_METRICS_TOKEN, or an installation key (Authorization: Bearer skyi_...)');
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: it is checked as the IPv4 address it is. */
export function isAllowed(list: BlockList, address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return list.check(mapped, 'ipv4');
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}
