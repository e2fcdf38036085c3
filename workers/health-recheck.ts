import type { Runtime } from '../src/deps.ts';

/**
 * At the start of the worker and the scheduler roles: a new health check of every credential whose last one failed,
 * so what a restart fixed (a CA in NODE_EXTRA_CA_CERTS, SKYLOFT_ALLOWED_ENDPOINTS) shows at once. Processes starting
 * together queue one check per credential (HealthService.recheckFailed). Best effort: the schedule checks anyway.
 */
export async function recheckFailedHealth(rt: Runtime): Promise<void> {
  try {
    const due = await rt.health.recheckFailed(rt.orm.em.fork());
    if (due > 0) rt.log.info({ credentials: due }, 're-checking credentials whose last health check failed');
  } catch (err) {
    rt.log.warn({ err }, 'could not queue the start-up health re-checks; the schedule will check them');
  }
}
