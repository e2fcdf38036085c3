import type { Runtime } from '../src/runtime.ts';

/**
 * The worker role: one BullMQ worker per job queue in src/queue's catalog. Issue 1 defines no job yet
 * (provisioning, inventory, cost and health jobs arrive with their issues), so this role only reports ready.
 */
export async function startWorkers(rt: Runtime): Promise<() => Promise<void>> {
  rt.log.info('worker role ready (no job queues are defined yet)');
  return async () => {};
}
