import type { Runtime } from '../src/runtime.ts';

/**
 * The scheduler role: keeps each account's repeatable inventory, health and cost jobs registered. Those jobs
 * arrive with issues 3 and 4; until then this role only reports ready.
 */
export async function startScheduler(rt: Runtime): Promise<() => Promise<void>> {
  rt.log.info('scheduler role ready (no schedules are defined yet)');
  return async () => {};
}
