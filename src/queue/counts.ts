import { DependencyError } from '../shared/errors.ts';
import type { QueueCounts } from '../shared/metrics.ts';
import { withTimeout } from '../shared/timeout.ts';
import { QUEUE_NAMES, type Queues } from './catalog.ts';

/**
 * Every catalog queue's job counts (every account's) and paused flag, for the queue gauges of /metrics (GET
 * /v1/queues counts the caller's account only: src/queue/account-jobs.ts). Per queue one
 * getCounts script and one HEXISTS, all sent at once over the shared connection (one round trip of latency in
 * all). `waiting` counts jobs ready to run: BullMQ's wait list (where jobs of a paused queue also wait) and its
 * prioritized set; parents waiting for their children (inventory-finish) are not counted as waiting.
 */
export async function queueCounts(queues: Queues, timeoutMs: number): Promise<QueueCounts[]> {
  const read = Promise.all(
    QUEUE_NAMES.map(async (name) => {
      const queue = queues.get(name);
      const [c, paused] = await Promise.all([queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'), queue.isPaused()]);
      return {
        name,
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
        completed: c.completed ?? 0,
        paused,
      };
    }),
  );
  try {
    return await withTimeout(read, timeoutMs, 'Redis');
  } catch (e) {
    read.catch(() => {}); // answered late or failed: nobody waits for it any more
    throw new DependencyError('redis', `Redis did not answer within ${timeoutMs} ms; queue counts are unavailable, try again shortly`, e);
  }
}
