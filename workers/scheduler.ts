import { pruneHistory } from '../src/modules/retention/service.ts';
import type { Runtime } from '../src/runtime.ts';

const EVERY_MS = 60_000;
const PRUNE_EVERY_MS = 60 * 60_000;

/**
 * The scheduler role: keeps every credential's BullMQ job schedulers (inventory sync, health check, cost) in line with
 * the database, at start and every minute, and prunes history older than SKYLOFT_RETENTION_DAYS every hour. Scheduler ids derive from the credential, so several scheduler processes and
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
  const prune = async () => {
    try {
      const pruned = await pruneHistory(rt.orm.em.fork(), rt.config.retentionDays);
      rt.log.info({ pruned, retentionDays: rt.config.retentionDays }, 'history pruned');
    } catch (err) {
      rt.log.warn({ err }, 'could not prune history; retrying in an hour');
    }
  };
  await tick();
  const timer = setInterval(() => void tick(), EVERY_MS);
  const pruneTimer = setInterval(() => void prune(), PRUNE_EVERY_MS);
  void prune();
  rt.log.info('scheduler role ready');
  return async () => {
    clearInterval(timer);
    clearInterval(pruneTimer);
  };
}
