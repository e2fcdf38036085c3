import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { apiKeyRoutes, meRoutes, userRoutes } from '../modules/accounts/routes.ts';
import { auditRoutes } from '../modules/audit/routes.ts';
import { credentialRoutes } from '../modules/credentials/routes.ts';
import { stateBackendRoutes } from '../modules/state/backend-routes.ts';
import { stateRoutes } from '../modules/state/routes.ts';
import { operationRoutes, resourceRoutes } from '../modules/provisioning/routes.ts';
import { inventoryRoutes, syncRoutes } from '../modules/inventory/routes.ts';
import { healthRoutes } from '../modules/health/routes.ts';
import { scheduleRoutes } from '../modules/schedules/routes.ts';
import { costRoutes, resourceCostRoutes } from '../modules/cost/routes.ts';
import { dashboardRoutes } from '../modules/dashboard/routes.ts';
import { queueRoutes } from '../modules/queues/routes.ts';
import { ValidationError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import type { AppDeps } from './deps.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerErrorHandling } from './plugins/errors.ts';
import { registerMetrics } from './plugins/metrics.ts';
import { registerOpenApi } from './plugins/openapi.ts';
import { registerRequestContext } from './plugins/request-log.ts';
import { systemRoutes } from './system-routes.ts';

export const JSON_BODY_LIMIT = 1024 * 1024;

/** Builds the HTTP API. Cross-cutting plugins first, then each capability's routes under /v1. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: JSON_BODY_LIMIT,
    genReqId: () => newId(),
    // One line per request, written by registerRequestContext (Fastify's own two lines log the URL with its query).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    routerOptions: { ignoreTrailingSlash: true },
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

  // PostgreSQL text and jsonb cannot hold U+0000: refuse it as bad input instead of failing in the driver.
  app.addHook('preValidation', async (request) => {
    const where = findNul(request.body, 'body') ?? findNul(request.query, 'query');
    if (where) throw new ValidationError('Text must not contain the NUL character (U+0000)', [{ path: where, message: 'contains U+0000' }]);
  });

  registerErrorHandling(app);
  registerAuth(app, deps);
  registerMetrics(app, deps, { inventoryFreshness: true });
  await registerOpenApi(app);

  await app.register(systemRoutes(deps));
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

function findNul(value: unknown, path: string): string | undefined {
  if (Buffer.isBuffer(value)) return undefined; // raw bodies (Terraform state) are stored as bytes
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return `${path}.${k.replaceAll('\u0000', '\\u0000')}`;
    const found = findNul(v, `${path}.${k}`);
    if (found) return found;
  }
  return undefined;
}
