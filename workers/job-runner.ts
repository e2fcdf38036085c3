import { DelayedError, UnrecoverableError, WaitingChildrenError, WaitingError, type Job } from 'bullmq';
import { runInContext } from '../src/shared/context.ts';
import { AppError } from '../src/shared/errors.ts';
import type { Logger } from '../src/shared/logger.ts';

/** The abort reason the worker gives its running jobs when the process shuts down (Worker.cancelAllJobs). */
export const SHUTDOWN = 'shutdown';

export type JobProcessor = (job: Job, token?: string, signal?: AbortSignal) => Promise<void>;

/**
 * A job's processor, and what records its final failure on its row (a run ends failed, a scope is recorded failed).
 * `failed` answers 'completed' when the job should complete anyway (a failed scope must not hold its run's parent).
 */
export interface JobHandler {
  run: JobProcessor;
  failed?(job: Job, error: Error): Promise<'completed' | void>;
}

type Outcome = 'completed' | 'failed' | 'retrying' | 'delayed' | 'handed-back' | 'orphaned';

/** What the runner asks of the worker role around each job (workers/index.ts wires them). */
export interface JobHooks {
  /**
   * Why the job belongs to no row of this installation's database (another installation's job on a shared Redis
   * prefix, or a row deleted since), or undefined when it does. An orphan is completed without running.
   */
  orphaned?(job: Job): Promise<string | undefined>;
  /** Gives back what the attempt counted outside BullMQ (an operation's `attempts`) before the job is handed back. */
  handingBack?(job: Job): Promise<void>;
}

/**
 * The shared job wrapper: every job runs in its work context (its request id and job id on every line logged
 * meanwhile) and ends with exactly one log line: job, queue, job id, attempt, duration, outcome, the ids of its
 * payload and the request that caused it.
 *
 * Shutdown: the worker aborts running jobs with SHUTDOWN. A job that then stops (provisioning stops its terraform and
 * releases its lease), or that has not stopped by `handBackBy`, is handed back: moved from active to waiting with
 * its lock token, so another worker takes it at once instead of after BullMQ's stalled-job check (30 s), and without
 * spending an attempt: BullMQ's attemptsMade is untouched, and `hooks.handingBack` gives back the attempt the
 * processor counted in the database.
 *
 * Orphans: a job whose row does not exist in this installation's database is completed at once with one warning
 * (outcome `orphaned`), instead of failing and retrying against a row that will never appear.
 */
export class JobRunner {
  private readonly log: Logger;
  private readonly hooks: JobHooks;
  /** Epoch ms by which an aborted job is handed back even if its processor has not returned. */
  handBackBy = Number.POSITIVE_INFINITY;

  constructor(log: Logger, hooks: JobHooks = {}) {
    this.log = log;
    this.hooks = hooks;
  }

  wrap(queue: string, processor: JobProcessor): JobProcessor {
    return (job, token, signal) => {
      const { requestId } = job.data as { requestId?: string };
      return runInContext({ requestId, jobId: job.id }, () => this.run(queue, processor, job, token, signal));
    };
  }

  private async run(queue: string, processor: JobProcessor, job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    const started = performance.now();
    let outcome: Outcome = 'completed';
    let error: string | undefined;
    let orphan: string | undefined;
    try {
      orphan = await this.hooks.orphaned?.(job);
      if (orphan !== undefined) {
        outcome = 'orphaned';
        return;
      }
      await this.untilHandBack(processor(job, token, signal), signal);
    } catch (e) {
      if (signal?.reason === SHUTDOWN && !isMoved(e)) {
        await this.hooks.handingBack?.(job).catch((err: unknown) => this.log.warn({ err, jobId: job.id }, 'could not give back the attempt of a handed-back job'));
        await job.moveToWait(token);
        outcome = 'handed-back';
        throw new WaitingError();
      }
      outcome = isMoved(e) ? 'delayed' : isFinal(job, e) ? 'failed' : 'retrying';
      if (!isMoved(e)) error = (e as Error).message;
      throw e;
    } finally {
      const { requestId, ...ids } = job.data as Record<string, unknown>;
      const line = {
        job: job.name,
        queue,
        attempt: job.attemptsMade + 1,
        durationMs: Math.round(performance.now() - started),
        outcome,
        ...ids,
        ...(error !== undefined && { error }),
        ...(orphan !== undefined && { orphan }),
      };
      // requestId and jobId come from the work context (see src/shared/logger.ts).
      if (outcome === 'failed') this.log.error(line, 'job finished');
      else if (outcome === 'retrying' || outcome === 'orphaned') this.log.warn(line, 'job finished');
      else this.log.info(line, 'job finished');
    }
  }

  /** The processor's result, or a rejection once the job was aborted for shutdown and handBackBy has passed. */
  private untilHandBack(work: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    if (!signal) return work;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const late = new Promise<never>((_, reject) => {
      onAbort = () => {
        timer = setTimeout(() => reject(new Error('the job did not stop before the shutdown limit')), Math.max(0, this.handBackBy - Date.now()));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    work.catch(() => {}); // a processor still running after the hand-back must not crash the process when it fails
    return Promise.race([work, late]).finally(() => {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    });
  }
}

/**
 * The one retry-or-final mapping of a handler's errors. A failure is final when another attempt would repeat it (an
 * AppError that is not retryable, or an UnrecoverableError) or when it was the job's last attempt: then `failed`
 * records it and the job fails for good (UnrecoverableError: BullMQ does not retry it). Any other failure is thrown
 * as is, and BullMQ retries it with the catalog's backoff. A job moved back to the queue (parked, waiting for another
 * run) or stopped by its abort signal (shutdown: the runner hands it back) has not failed. A handler without `failed`
 * is left to BullMQ's own rule.
 */
export function settling(handler: JobHandler): JobProcessor {
  const { run, failed } = handler;
  if (!failed) return run;
  return async (job, token, signal) => {
    try {
      await run(job, token, signal);
    } catch (e) {
      if (isMoved(e) || signal?.aborted) throw e;
      const retryable = !(e instanceof UnrecoverableError) && (!(e instanceof AppError) || e.retryable);
      if (retryable && !isLastAttempt(job)) throw e;
      if ((await failed(job, e as Error)) === 'completed') return;
      throw e instanceof UnrecoverableError ? e : new UnrecoverableError((e as Error).message);
    }
  };
}

/** BullMQ's "moved, not failed" signals: the job already went back to delayed, waiting or waiting-children. */
export function isMoved(e: unknown): boolean {
  return e instanceof DelayedError || e instanceof WaitingError || e instanceof WaitingChildrenError;
}

/** BullMQ's rule (Job.shouldRetryJob): a failure is final when unrecoverable or on the job's last attempt. */
export function isFinal(job: Job, e: unknown): boolean {
  return e instanceof UnrecoverableError || isLastAttempt(job);
}

function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}
