import { pruneHistory } from '../src/modules/retention/index.ts';
import type { Runtime } from '../src/deps.ts';
import { recheckFailedHealth } from './health-recheck.ts';
import { Background } from './background.ts';

const EVERY_MS = 60_000;
const PRUNE_EVERY_MS = 60 * 60_000;

/**
 * The scheduler role: keeps every credential's BullMQ job schedulers (inventory sync, health check, cost) in line with
 * the database, at start and every minute, and prunes history older than SKYLOFT_RETENTION_DAYS every hour. Scheduler ids derive from the credential, so several scheduler processes and
 * restarts never duplicate a schedule; a credential deleted while Redis was away loses its schedulers here. At start
 * it also re-checks the credentials whose last health check failed (workers/health-recheck.ts).
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
  await recheckFailedHealth(rt);
  // The stop waits for a tick or a prune in progress: the process closes the database after it.
  const background = new Background();
  background.every(EVERY_MS, tick);
  background.every(PRUNE_EVERY_MS, prune);
  background.run(prune);
  rt.log.info('scheduler role ready');
  return () => background.stop();
}
