import type { Runtime } from '../src/runtime.ts';

const EVERY_MS = 60_000;

/**
 * The scheduler role: keeps every credential's BullMQ job schedulers (inventory sync, health check) in line with the
 * database, at start and every minute. Scheduler ids derive from the credential, so several scheduler processes and
 * restarts never duplicate a schedule; a credential deleted while Redis was away loses its schedulers here.
 */
export async function startScheduler(rt: Runtime): Promise<() => Promise<void>> {
  const tick = async () => {
    try {
      const { upserted, removed } = await rt.schedules.reconcile(rt.orm.em.fork());
      rt.log.debug({ upserted, removed }, 'schedules reconciled');
    } catch (err) {
      rt.log.warn({ err }, 'could not reconcile schedules; retrying in a minute');
    }
  };
  await tick();
  const timer = setInterval(() => void tick(), EVERY_MS);
  rt.log.info('scheduler role ready');
  return async () => clearInterval(timer);
}
