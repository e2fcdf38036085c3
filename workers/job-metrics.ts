import type { Job } from 'bullmq';
import { catalog } from '../src/queue/catalog.ts';
import { jobDuration, type JobOutcome } from '../src/shared/metrics.ts';
import { isFinal, isMoved } from './job-runner.ts';

/**
 * Wraps a queue's processor so each job attempt is observed in skyloft_job_duration_seconds{queue,job,outcome}:
 * completed; delayed (moved back to wait or delayed instead of finishing: a cost collection behind another one, a
 * job handed back at shutdown); retried (it threw and BullMQ will try again: the rule of Job.shouldRetryJob);
 * failed (its last attempt, or unrecoverable).
 */
export function withJobMetrics<T>(queue: string, processor: (job: Job, token?: string, signal?: AbortSignal) => Promise<T>) {
  // Three declared parameters, not a rest parameter: BullMQ hands the abort signal (cancelJob, shutdown) only to a
  // processor whose `length` is 3 or more.
  return async (job: Job, token?: string, signal?: AbortSignal): Promise<T> => {
    const end = jobDuration.startTimer({ queue, job: Object.hasOwn(catalog, job.name) ? job.name : 'unknown' });
    try {
      const result = await processor(job, token, signal);
      end({ outcome: 'completed' });
      return result;
    } catch (err) {
      end({ outcome: outcomeOf(job, err) });
      throw err;
    }
  };
}

export function outcomeOf(job: Job, err: unknown): JobOutcome {
  if (isMoved(err)) return 'delayed';
  return isFinal(job, err) ? 'failed' : 'retried';
}
