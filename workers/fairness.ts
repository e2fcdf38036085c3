import { DelayedError, type Job, type Queue } from 'bullmq';
import { AccountSlots } from '../src/queue/fairness.ts';
import type { JobName, QueueName } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/runtime.ts';
import type { JobProcessor } from './job-runner.ts';

/**
 * Jobs of one account running at once per queue across every worker, unless SKYLOFT_ACCOUNT_CONCURRENCY says
 * otherwise: half of this worker's concurrency for that queue (at least one). Whatever one account has queued or
 * running, every worker keeps the other half of its slots for the other accounts.
 */
export function defaultAccountCap(concurrency: number): number {
  return Math.max(1, Math.floor(concurrency / 2));
}

/** Where the account of a job queued without `accountId` is found: the row its payload names. Scheduler ticks only enqueue: they are not capped. */
const OWNER: Partial<Record<JobName, { table: string; field: string }>> = {
  provision: { table: 'operations', field: 'operationId' },
  'inventory-plan': { table: 'sync_runs', field: 'runId' },
  'inventory-scope': { table: 'sync_runs', field: 'runId' },
  'inventory-finish': { table: 'sync_runs', field: 'runId' },
  'health-check': { table: 'credentials', field: 'credentialId' },
  'cost-collect': { table: 'cost_runs', field: 'runId' },
};

/**
 * How long a parked job waits before it comes back by itself. It is normally woken long before, when one of its
 * account's jobs ends; this only bounds a lost wake-up (a slot whose worker died lapses without waking anyone).
 */
export const PARK_MS = 30_000;

/** How long a waker waits for a job that is still being parked (active, about to move to delayed). */
const PARKING_WAIT_MS = 50;

/**
 * Per-account fairness, like BullMQ Pro's groups on what BullMQ 6 offers: a job runs only while its account holds
 * fewer than its cap of that queue's slots (in Redis, shared by all workers). Otherwise it is parked: moved back to
 * the delayed set without spending an attempt, in its account's line, and the worker takes the next job, which is
 * another account's or parks too (a few milliseconds). Each job of the account that ends wakes the oldest parked
 * one. So one account's backlog waits in its own line instead of in front of everyone else's jobs.
 */
export function withAccountCap(rt: Runtime, queue: QueueName, concurrency: number, dispatch: JobProcessor): JobProcessor {
  const jobs = rt.queues.get(queue);
  const slots = new AccountSlots(rt.redis, rt.config.redis.prefix, undefined, (_queue, id) => wake(jobs, id));
  const cap = accountCap(rt, queue, concurrency);
  const owners = new Map<string, string>();
  const accountOf = async (job: Job): Promise<string | undefined> => {
    // Every producer names the account in the payload (src/queue/catalog.ts); only jobs queued before it did need
    // the row's. Fairness only orders work: the processors still look every row up by its id and account.
    const owner = OWNER[job.name as JobName];
    const id = owner && (job.data as Record<string, unknown>)[owner.field];
    if (!owner || typeof id !== 'string') return undefined;
    const named = (job.data as { accountId?: unknown }).accountId;
    if (typeof named === 'string') return named;
    const key = `${owner.table}:${id}`;
    let account = owners.get(key);
    if (account === undefined) {
      const rows = await rt.orm.em.getConnection().execute<{ account_id: string }[]>(`select account_id from ${owner.table} where id = ?`, [id]);
      account = rows[0]?.account_id;
      if (account === undefined) return undefined; // gone: the processor settles it
      if (owners.size > 10_000) owners.clear();
      owners.set(key, account);
    }
    return account;
  };
  return async (job, token, signal) => {
    const accountId = await accountOf(job);
    if (accountId === undefined || !job.id) return dispatch(job, token, signal);
    const result = await slots.run(queue, accountId, job.id, cap, () => dispatch(job, token, signal));
    if (!result.ran) {
      await job.moveToDelayed(Date.now() + PARK_MS, token);
      throw new DelayedError();
    }
  };
}

/** The cap of one account on `queue` (SKYLOFT_ACCOUNT_CONCURRENCY, else defaultAccountCap). */
export function accountCap(rt: Runtime, queue: QueueName, concurrency: number): number {
  return rt.config.accountConcurrency[queue] ?? defaultAccountCap(concurrency);
}

/**
 * Promotes a parked job. One that is still active is being parked this very moment (its worker found the cap full
 * just before the slot freed): wait for it to reach the delayed set. One already waiting is on its way anyway.
 */
async function wake(queue: Queue, jobId: string): Promise<boolean> {
  for (let tries = 0; tries < 20; tries++) {
    const job = await queue.getJob(jobId);
    if (!job) return false;
    const state = await job.getState();
    if (state === 'waiting' || state === 'prioritized') return true;
    if (state === 'delayed') {
      const promoted = await job.promote().then(() => true, () => false);
      if (promoted) return true;
      continue; // it moved meanwhile: look again
    }
    if (state !== 'active') return false; // finished or gone
    await new Promise((r) => setTimeout(r, PARKING_WAIT_MS));
  }
  return false;
}
