import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { apiKeyRoutes, meRoutes, userRoutes } from '../modules/accounts/index.ts';
import { auditRoutes } from '../modules/audit/index.ts';
import { credentialRoutes } from '../modules/credentials/index.ts';
import { operationRoutes, resourceRoutes, stateBackendRoutes, stateRoutes } from '../modules/provisioning/index.ts';
import { inventoryRoutes, syncRoutes } from '../modules/inventory/index.ts';
import { healthRoutes } from '../modules/health/index.ts';
import { scheduleRoutes } from '../modules/schedules/index.ts';
import { costRoutes, resourceCostRoutes } from '../modules/cost/index.ts';
import { dashboardRoutes } from '../modules/dashboard/index.ts';
import { queueRoutes } from '../modules/queues/index.ts';
import { ValidationError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import type { AppDeps } from '../deps.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerEmptyBodies } from './plugins/empty-body.ts';
import { registerErrorHandling, sendError } from './plugins/errors.ts';
import { registerMetrics } from './plugins/metrics.ts';
import { registerOpenApi } from './plugins/openapi.ts';
import { registerPagePolicy } from './plugins/page-policy.ts';
import { registerRequestContext } from './plugins/request-log.ts';
import { serverTimeouts } from './server-timeouts.ts';
import { systemRoutes } from './system-routes.ts';
import { homePage } from './home-page.ts';

export const JSON_BODY_LIMIT = 1024 * 1024;

/** Builds the HTTP API. Cross-cutting plugins first, then each capability's routes under /v1. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: JSON_BODY_LIMIT,
    ...serverTimeouts(deps.config.http),
    genReqId: () => newId(),
    // One line per request, written by registerRequestContext (Fastify's own two lines log the URL with its query).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // Path parameters up to 1,000 characters reach their route, whose schema refuses them (400) after the key is
    // checked (401 first); longer ones, and URLs with broken percent-encoding, are refused by the router itself:
    // frameworkErrors gives those the contract's error shape (Fastify's own answer was a bare 414/400 body).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1_000 },
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id);
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long' : 'The URL is not valid (bad percent-encoding)';
      return sendError(reply, 400, 'malformed_request', message);
    },
  }).withTypeProvider<ZodTypeProvider>();
  registerRequestContext(app);
  // Terraform's http backend locks with these two methods.
  app.addHttpMethod('LOCK', { hasBody: true });
  app.addHttpMethod('UNLOCK', { hasBody: true });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: any other Content-Type (text/plain included) answers 415. An empty JSON body counts as no body,
  // so `curl -X POST -H 'content-type: application/json' .../approve` works.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) =>
    body === '' ? done(null, undefined) : parseJson(req, body as string, done),
  );

  app.decorateRequest('em', null as never);
  app.decorateRequest('actor', null as never);
  app.addHook('onRequest', async (request, reply) => {
    request.em = deps.orm.em.fork();
    reply.header('x-request-id', request.id);
  });

  // PostgreSQL text and jsonb cannot hold U+0000 nor a lone surrogate (JSON's "\ud800": a sandbox spec holding one
  // answered 500): refuse them as bad input instead of failing in the driver. And
  // refuse JSON nested deeper than MAX_JSON_DEPTH: 5,000 levels of a sandbox spec (60 KB) overflowed the stack in
  // JSON.stringify and answered 500.
  app.addHook('preValidation', async (request) => {
    const bad = findBadValue(request.body, 'body') ?? findBadValue(request.query, 'query');
    if (bad?.nul) throw new ValidationError('Text must not contain the NUL character (U+0000)', [{ path: bad.path, message: 'contains U+0000' }]);
    if (bad?.surrogate) throw new ValidationError('Text must be valid Unicode (a lone surrogate such as \\ud800 cannot be stored)', [{ path: bad.path, message: 'lone surrogate' }]);
    if (bad) throw new ValidationError(`JSON must not be nested more than ${MAX_JSON_DEPTH} levels deep`, [{ path: bad.path, message: 'nested too deeply' }]);
  });

  registerErrorHandling(app);
  registerEmptyBodies(app);
  registerPagePolicy(app);
  registerAuth(app, deps);
  registerMetrics(app, deps, { inventoryFreshness: true });
  await registerOpenApi(app);

  await app.register(systemRoutes(deps));
  homePage(app);
  // /admin: the queue dashboard, behind its own cookie sessions (the /v1 bearer check does not cover it).
  await app.register(dashboardRoutes(deps));
  await app.register(
    async (v1) => {
      await v1.register(meRoutes);
      await v1.register(userRoutes, { prefix: '/users' });
      await v1.register(apiKeyRoutes, { prefix: '/api-keys' });
      await v1.register(credentialRoutes(deps), { prefix: '/credentials' });
      await v1.register(auditRoutes, { prefix: '/audit-events' });
      await v1.register(resourceRoutes(deps), { prefix: '/resources' });
      await v1.register(stateRoutes(deps), { prefix: '/resources' });
      await v1.register(operationRoutes(deps), { prefix: '/operations' });
      await v1.register(inventoryRoutes, { prefix: '/inventory' });
      await v1.register(syncRoutes(deps), { prefix: '/inventory' });
      await v1.register(healthRoutes(deps), { prefix: '/health' });
      await v1.register(scheduleRoutes(deps), { prefix: '/schedules' });
      await v1.register(costRoutes(deps), { prefix: '/costs' });
      await v1.register(queueRoutes(deps), { prefix: '/queues' });
      await v1.register(resourceCostRoutes, { prefix: '/resources' });
      await v1.register(stateBackendRoutes(deps), { prefix: '/terraform/state' });
    },
    { prefix: '/v1' },
  );
  await app.ready();
  return app;
}

export const MAX_JSON_DEPTH = 64;

/** The first string or key holding U+0000, or the first value nested deeper than MAX_JSON_DEPTH (an explicit stack: no recursion to overflow). */
function findBadValue(value: unknown, path: string): { path: string; nul?: boolean; surrogate?: boolean } | undefined {
  const stack: [unknown, string, number][] = [[value, path, 0]];
  while (stack.length > 0) {
    const [v, at, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { path: at, nul: true };
      if (!v.isWellFormed()) return { path: at, surrogate: true };
      continue;
    }
    // Raw bodies (Terraform state) are stored as bytes.
    if (typeof v !== 'object' || v === null || Buffer.isBuffer(v)) continue;
    if (depth >= MAX_JSON_DEPTH) return { path: at };
    const entries = Object.entries(v);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!;
      if (k.includes('\u0000')) return { path: `${at}.${k.replaceAll('\u0000', '\\u0000')}`, nul: true };
      if (!k.isWellFormed()) return { path: `${at}.${k.toWellFormed()}`, surrogate: true };
      stack.push([child, `${at}.${k}`, depth + 1]);
    }
  }
  return undefined;
}

