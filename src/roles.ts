import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { serverTimeouts } from './http/server-timeouts.ts';
import { registerMetrics } from './http/plugins/metrics.ts';
import { systemRoutes } from './http/system-routes.ts';
import type { Runtime } from './runtime.ts';
import type { StopBudget } from './shared/shutdown.ts';
import { startScheduler } from '../workers/scheduler.ts';
import { startWorkers } from '../workers/index.ts';

/**
 * Starts the roles SKYLOFT_ROLES asks for; the returned function stops them, all at once: HTTP stops accepting
 * connections and finishes its in-flight requests while the workers stop taking jobs and let running ones finish
 * within the budget (src/shared/shutdown.ts); a slow request does not eat the jobs' time.
 * Every process listens on PORT: the full API with the api role, otherwise only /healthz, /readyz and /metrics, so
 * orchestrators can probe worker and scheduler replicas the same way.
 */
export async function startRoles(rt: Runtime): Promise<(budget: StopBudget) => Promise<void>> {
  const stops: ((budget: StopBudget) => Promise<void>)[] = [];
  if (rt.config.roles.includes('worker')) stops.push(await startWorkers(rt));
  if (rt.config.roles.includes('scheduler')) stops.push(await startScheduler(rt));
  // The API (its routes, OpenAPI and dashboard) is loaded only by processes that serve it.
  const app = rt.config.roles.includes('api') ? await (await import('./http/app.ts')).buildApp(rt) : await probeServer(rt);
  await app.listen({ port: rt.config.http.port, host: rt.config.http.host });
  stops.unshift(() => app.close());
  rt.log.info({ roles: rt.config.roles }, 'skyloft started');
  return async (budget) => {
    await Promise.all(stops.map((stop) => stop(budget)));
  };
}

async function probeServer(rt: Runtime) {
  const app = Fastify({ loggerInstance: rt.log as FastifyBaseLogger, ...serverTimeouts(rt.config.http), logController: new LogController({ disableRequestLogging: true }) });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // /metrics too: job, cloud and terraform metrics live in the worker processes, and Prometheus scrapes each process.
  registerMetrics(app, rt, { inventoryFreshness: false });
  await app.register(systemRoutes(rt));
  return app;
}
