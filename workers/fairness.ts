import { DelayedError, type Job, type Queue } from 'bullmq';
import { AccountSlots } from '../src/queue/fairness.ts';
import { accountCap, accountOf, type QueueName } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/deps.ts';
import type { JobProcessor } from './job-runner.ts';

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
export function withAccountCap(rt: Runtime, queue: QueueName, dispatch: JobProcessor): JobProcessor {
  const jobs = rt.queues.get(queue);
  const slots = new AccountSlots(rt.redis, rt.config.redis.prefix, undefined, (_queue, id) => wake(jobs, id));
  const cap = accountCap(rt.config, queue);
  const owners = new Map<string, string>();
  const accountOfJob = async (job: Job): Promise<string | undefined> => {
    // Every producer names the account in the payload (src/queue/catalog.ts). A job queued by an older version that
    // did not (still in Redis during an upgrade) is charged to its row's account, so an upgrade lets no backlog past
    // the cap. Fairness only orders work: the processors still look every row up by its id and account.
    const account = accountOf(job.name, job.data);
    if (!account || 'named' in account) return account?.named;
    const key = `${account.row.table}:${account.row.id}`;
    let owner = owners.get(key);
    if (owner === undefined) {
      const rows = await rt.orm.em.getConnection().execute<{ account_id: string }[]>(`select account_id from ${account.row.table} where id = ?`, [account.row.id]);
      owner = rows[0]?.account_id;
      if (owner === undefined) return undefined; // gone: the processor settles it
      if (owners.size > 10_000) owners.clear();
      owners.set(key, owner);
    }
    return owner;
  };
  return async (job, token, signal) => {
    const accountId = await accountOfJob(job);
    if (accountId === undefined || !job.id) return dispatch(job, token, signal);
    const result = await slots.run(queue, accountId, job.id, cap, () => dispatch(job, token, signal));
    if (!result.ran) {
      await job.moveToDelayed(Date.now() + PARK_MS, token);
      throw new DelayedError();
    }
  };
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
