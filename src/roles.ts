import { buildApp } from './http/app.ts';
import type { Runtime } from './runtime.ts';
import { startScheduler } from '../workers/scheduler.ts';
import { startWorkers } from '../workers/index.ts';

/** Starts the roles SKYLOFT_ROLES asks for; the returned function stops them (HTTP first, then workers). */
export async function startRoles(rt: Runtime): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  if (rt.config.roles.includes('worker')) stops.push(await startWorkers(rt));
  if (rt.config.roles.includes('scheduler')) stops.push(await startScheduler(rt));
  if (rt.config.roles.includes('api')) {
    const app = await buildApp(rt);
    await app.listen({ port: rt.config.http.port, host: rt.config.http.host });
    stops.unshift(() => app.close());
  }
  rt.log.info({ roles: rt.config.roles }, 'skyloft started');
  return async () => {
    for (const stop of stops) await stop();
  };
}
