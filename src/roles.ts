import Fastify, { type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { buildApp } from './http/app.ts';
import { systemRoutes } from './http/system-routes.ts';
import type { Runtime } from './runtime.ts';
import { startScheduler } from '../workers/scheduler.ts';
import { startWorkers } from '../workers/index.ts';

/**
 * Starts the roles SKYLOFT_ROLES asks for; the returned function stops them (HTTP first, then workers).
 * Every process listens on PORT: the full API with the api role, otherwise only /healthz and /readyz, so
 * orchestrators can probe worker and scheduler replicas the same way.
 */
export async function startRoles(rt: Runtime): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  if (rt.config.roles.includes('worker')) stops.push(await startWorkers(rt));
  if (rt.config.roles.includes('scheduler')) stops.push(await startScheduler(rt));
  const app = rt.config.roles.includes('api') ? await buildApp(rt) : await probeServer(rt);
  await app.listen({ port: rt.config.http.port, host: rt.config.http.host });
  stops.unshift(() => app.close());
  rt.log.info({ roles: rt.config.roles }, 'skyloft started');
  return async () => {
    for (const stop of stops) await stop();
  };
}

async function probeServer(rt: Runtime) {
  const app = Fastify({ loggerInstance: rt.log as FastifyBaseLogger, disableRequestLogging: true });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(systemRoutes(rt));
  return app;
}
