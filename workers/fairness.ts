import { DelayedError, type Job } from 'bullmq';
import { AccountSlots } from '../src/queue/fairness.ts';
import type { JobName, QueueName } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/runtime.ts';
import type { JobProcessor } from './job-runner.ts';

/** Jobs of one account running at once per queue across every worker, unless SKYLOFT_ACCOUNT_CONCURRENCY says otherwise. */
export const ACCOUNT_CAPS: Record<QueueName, number> = { provisioning: 4, inventory: 8, health: 4, cost: 2 };

/** Where each job's account is found: the row its payload names. Scheduler ticks only enqueue: they are not capped. */
const OWNER: Partial<Record<JobName, { table: string; field: string }>> = {
  provision: { table: 'operations', field: 'operationId' },
  'inventory-plan': { table: 'sync_runs', field: 'runId' },
  'inventory-scope': { table: 'sync_runs', field: 'runId' },
  'inventory-finish': { table: 'sync_runs', field: 'runId' },
  'health-check': { table: 'credentials', field: 'credentialId' },
  'cost-collect': { table: 'cost_runs', field: 'runId' },
};

/** How long a job of an account at its cap waits before asking again (plus jitter, so waiters do not march in step). */
const RETRY_MS = 1_000;

/**
 * Per-account fairness: a job runs only while its account holds fewer than its cap of that queue's jobs (a slot in
 * Redis, shared by all workers); otherwise it goes back to the delayed set for a moment, without spending an attempt,
 * and the worker takes the next job, which is likely another account's. One account's thousand creates or
 * million-row sync therefore never occupy every worker.
 */
export function withAccountCap(rt: Runtime, queue: QueueName, dispatch: JobProcessor): JobProcessor {
  const slots = new AccountSlots(rt.redis, rt.config.redis.prefix);
  const cap = rt.config.accountConcurrency[queue] ?? ACCOUNT_CAPS[queue];
  const owners = new Map<string, string>();
  const accountOf = async (job: Job): Promise<string | undefined> => {
    const owner = OWNER[job.name as JobName];
    const id = owner && (job.data as Record<string, unknown>)[owner.field];
    if (!owner || typeof id !== 'string') return undefined;
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
      await job.moveToDelayed(Date.now() + RETRY_MS + Math.floor(Math.random() * RETRY_MS), token);
      throw new DelayedError();
    }
  };
}
