import type { Logger } from '../shared/logger.ts';
import { withTimeout } from '../shared/timeout.ts';
import type { JobName, Produced, Queues } from './catalog.ts';

/** A Redis that hangs must not hold an accepted request: past this the job is left to whoever enqueues it later. */
export const ENQUEUE_TIMEOUT_MS = 2_000;

/**
 * Enqueues a job whose row is already committed, or leaves it to `later`: a Redis that is down or hangs never fails
 * the request that asked for the work. `later` names who enqueues it instead (the reconciler, for operations, sync
 * runs and cost runs: workers/reconciler.ts; the credential's schedule, for a health check), in the one warning
 * logged with the job's ids. Never throws.
 */
export async function enqueueOrLeave<J extends JobName>(queues: Queues, log: Logger, job: J, payload: Produced<J>, later: 'the reconciler' | 'the schedule'): Promise<void> {
  try {
    await withTimeout(queues.add(job, payload), ENQUEUE_TIMEOUT_MS, 'Redis');
  } catch (err) {
    const ids: Record<string, unknown> = payload;
    log.warn({ err, job, ...ids }, `could not enqueue ${job}; ${later} will`);
  }
}
