import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { serverTimeouts } from './http/server-timeouts.ts';
import { registerMetrics } from './http/plugins/metrics.ts';
import { systemRoutes } from './http/system-routes.ts';
import type { Runtime } from './runtime.ts';
import type { StopBudget } from './shared/shutdown.ts';
import { startScheduler } from '../workers/scheduler.ts';
import { prepareWorkers } from '../workers/index.ts';

type Stop = (budget: StopBudget) => Promise<void>;

/**
 * Starts the roles SKYLOFT_ROLES asks for; the returned function stops them, all at once: HTTP stops accepting
 * connections and finishes its in-flight requests while the workers stop taking jobs and let running ones finish
 * within the budget (src/shared/shutdown.ts); a slow request does not eat the jobs' time.
 * Every process listens on PORT: the full API with the api role, otherwise only /healthz, /readyz and /metrics, so
 * orchestrators can probe worker and scheduler replicas the same way.
 *
 * Work is taken last: every listener is bound (PORT, the workers' state backend) and every check has passed before
 * the scheduler or a worker starts. A start that fails (PORT taken, a bad queue name) closes what it opened and
 * throws, having taken no job and spent no attempt.
 */
export async function startRoles(rt: Runtime): Promise<Stop> {
  const opened: Stop[] = [];
  let workers: Awaited<ReturnType<typeof prepareWorkers>> | undefined;
  try {
    if (rt.config.roles.includes('worker')) {
      workers = await prepareWorkers(rt);
      opened.push(workers.stop);
    }
    // The API (its routes, OpenAPI and dashboard) is loaded only by processes that serve it.
    const app = rt.config.roles.includes('api') ? await (await import('./http/app.ts')).buildApp(rt) : await probeServer(rt);
    opened.unshift(() => app.close());
    await listen(app, rt.config.http);
  } catch (e) {
    const now = Date.now();
    await Promise.all(opened.map((stop) => stop({ jobsUntil: now, handBackBy: now + 5_000 }).catch(() => {})));
    throw e;
  }
  if (rt.config.roles.includes('scheduler')) opened.push(await startScheduler(rt));
  workers?.run();
  rt.log.info({ roles: rt.config.roles }, 'skyloft started');
  return async (budget) => {
    await Promise.all(opened.map((stop) => stop(budget)));
  };
}

/** Binds PORT, or says plainly that it is taken. */
async function listen(app: { listen(o: { port: number; host: string }): Promise<string> }, http: Runtime['config']['http']): Promise<void> {
  try {
    await app.listen({ port: http.port, host: http.host });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    throw new Error(`PORT ${http.port} is already in use on ${http.host} (another Skyloft, or another program): stop it or set PORT to a free port`, { cause: e });
  }
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
